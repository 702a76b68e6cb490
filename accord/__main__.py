"""`python -m accord`: the `accord` command (the form a detached segment job's process is started with)."""

from accord.cli import main

if __name__ == "__main__":
    main()
