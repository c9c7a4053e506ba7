"""Bot pages: the dashboard, the create-bot wizard and the bot detail page, one module each."""
