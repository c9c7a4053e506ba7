"""Telegram: linking a chat by deep link, the bot's commands, and sending notifications.

The Bot API is spoken through python-telegram-bot; in tests and the zero-config run it talks
HTTP to `local_api.LocalBotApi`, a small stand-in for api.telegram.org.
"""
