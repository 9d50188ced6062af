"""`python -m cove.daemon` is `cove`."""

from cove.daemon.cli import main

main()
