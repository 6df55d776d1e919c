"""The gateway of the utility's intelligent customer service: store, API, channels, console."""
