"""The pure core: models, statistics and the round engine. No files, terminals or network."""
