"""Running a check: the rule catalogue, configuration, the engine, suppressions and baselines,
the parsed workspace, its cache, and the runner that ties them together."""
