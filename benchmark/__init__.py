"""How a run is orchestrated and scored: config, engine, strategies, backends, metrics."""
