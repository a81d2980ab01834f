"""Output: text, Markdown, plot, JSON schema of one analysis.
May import every folder above it (arith/ .. answers/)."""
