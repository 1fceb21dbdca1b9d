"""What is learned: languages, synthetic line images, dataset sources."""
