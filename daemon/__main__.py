"""`python -m cove.daemon` is `cove`."""

from cove.daemon.cli import main

# The guard matters: the loader's child process (multiprocessing "spawn") re-imports this
# module as __mp_main__ and must not run the CLI again.
if __name__ == "__main__":
    main()
