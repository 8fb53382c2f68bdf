"""The ways in: Discord, the terminal console and the `mlbot` command line. Each turns what a
user typed into a call of the one command registry (bot/commands/) and renders its Reply."""
