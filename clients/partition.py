"""Split a training pool into N private shards (lists of row indices into the pool).

Every scheme returns disjoint shards that together cover the pool (no row is dropped or
shared), sorted by index within each shard.
"""

from __future__ import annotations

import numpy as np

SCHEMES = ("iid", "natural", "dirichlet")


def iid_partition(n_items: int, num_clients: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Uniformly shuffled, (nearly) equal-size shards."""
    _check(n_items, num_clients)
    return [np.sort(s) for s in np.array_split(rng.permutation(n_items), num_clients)]


def natural_partition(labels: list[str], num_clients: int, rng: np.random.Generator) -> list[np.ndarray]:
    """By language: each client holds one language (a language with several clients is split
    evenly among them; with fewer clients than languages, clients hold several languages)."""
    _check(len(labels), num_clients)
    languages = sorted(set(labels))
    labels_arr = np.asarray(labels)
    shards: list[list[int]] = [[] for _ in range(num_clients)]
    if num_clients >= len(languages):
        owners = {
            lang: [c for c in range(num_clients) if c % len(languages) == i]
            for i, lang in enumerate(languages)
        }
    else:
        owners = {lang: [i % num_clients] for i, lang in enumerate(languages)}
    for lang in languages:
        rows = rng.permutation(np.flatnonzero(labels_arr == lang))
        for client, part in zip(owners[lang], np.array_split(rows, len(owners[lang]))):
            shards[client].extend(part.tolist())
    return [np.sort(np.asarray(s, dtype=np.int64)) for s in shards]


def dirichlet_partition(
    labels: list[str],
    num_clients: int,
    alpha: float,
    rng: np.random.Generator,
    min_size: int = 1,
    max_tries: int = 1000,
) -> list[np.ndarray]:
    """Label skew over languages: for each language, the share of its rows each client gets
    is drawn from Dirichlet(alpha). Small alpha = each client dominated by few languages;
    large alpha = close to iid. Redrawn until every client has at least `min_size` rows."""
    _check(len(labels), num_clients)
    if alpha <= 0:
        raise ValueError(f"Dirichlet alpha must be > 0, got {alpha}")
    if min_size * num_clients > len(labels):
        raise ValueError(
            f"cannot give {num_clients} clients at least {min_size} rows each from {len(labels)} rows"
        )
    labels_arr = np.asarray(labels)
    languages = sorted(set(labels))
    for _ in range(max_tries):
        shards: list[list[int]] = [[] for _ in range(num_clients)]
        for lang in languages:
            rows = rng.permutation(np.flatnonzero(labels_arr == lang))
            shares = rng.dirichlet(np.full(num_clients, alpha))
            cuts = (np.cumsum(shares)[:-1] * len(rows)).astype(int)
            for client, part in enumerate(np.split(rows, cuts)):
                shards[client].extend(part.tolist())
        if min(len(s) for s in shards) >= min_size:
            return [np.sort(np.asarray(s, dtype=np.int64)) for s in shards]
    raise ValueError(
        f"no Dirichlet(alpha={alpha}) draw gave every one of {num_clients} clients "
        f"{min_size}+ rows in {max_tries} tries; raise alpha, lower min_size or add data"
    )


def partition(
    scheme: str,
    labels: list[str],
    num_clients: int,
    rng: np.random.Generator,
    alpha: float = 0.5,
    min_size: int = 1,
) -> list[np.ndarray]:
    if scheme == "iid":
        return iid_partition(len(labels), num_clients, rng)
    if scheme == "natural":
        return natural_partition(labels, num_clients, rng)
    if scheme == "dirichlet":
        return dirichlet_partition(labels, num_clients, alpha, rng, min_size)
    raise ValueError(f"unknown partition scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")


def language_counts(labels: list[str], shards: list[np.ndarray]) -> list[dict[str, int]]:
    """Rows per language in each shard (the clients x languages table of the report)."""
    labels_arr = np.asarray(labels)
    return [{str(k): int(v) for k, v in zip(*np.unique(labels_arr[s], return_counts=True))} for s in shards]


def _check(n_items: int, num_clients: int) -> None:
    if num_clients < 1:
        raise ValueError(f"need at least one client, got {num_clients}")
    if n_items < num_clients:
        raise ValueError(f"cannot split {n_items} rows among {num_clients} clients")
