"""Who learns: private shards, the simulated client, and the Update it sends."""
