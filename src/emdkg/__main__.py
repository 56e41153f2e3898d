"""``python -m emdkg``: the same as the ``emdkg`` command."""

from emdkg.cli import main

if __name__ == "__main__":
    main()
