"""dj-stripe's schema as one migration per dj-stripe release, generated here by
`manage.py makemigrations djstripe` (settings.MIGRATION_MODULES).

dj-stripe's own three migrations rebuild its ~70 interlinked models' state 600 times (hundreds of
RemoveField), which took 2.5-3.5 minutes of CPU per fresh database here: every test run and every
first zero-config start. Generated from the same models, this creates the same tables in seconds.
After upgrading dj-stripe, run `makemigrations djstripe` and commit what it writes here.
"""
