"""The vocabulary every layer shares: source positions, findings, the object model, label
selectors and escaping. Imports nothing else of netlint."""
