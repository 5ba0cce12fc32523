"""Training the three networks: shared options, loaders, checkpoint files, losses, the step loop and one engine
per network (lip-sync expert, emotion discriminator, generator)."""
