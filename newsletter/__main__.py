"""`python -m newsletter`: the same as the `newsletter` command."""

from newsletter.cli.app import main

main()
