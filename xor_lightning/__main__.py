"""``python -m xor_lightning``: the command line lives in cli/main.py."""

from xor_lightning.cli.main import main_exit

if __name__ == "__main__":
    main_exit()
