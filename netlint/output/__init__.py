"""What a run produces and how it is shown: the report, its formats (text, JSON, GitHub, SARIF),
rule documentation and line fingerprints. Never imports rules or the runner."""
