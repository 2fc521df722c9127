"""Client memory: durable facts about a client, extracted from finished dialogues and recalled in later ones."""
