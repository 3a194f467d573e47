"""`python -m gan_zoo.train`: the same as `gan-zoo-train` (the command lives in gan_zoo.commands.train)."""
from gan_zoo.commands.train import main

if __name__ == "__main__":
    main()
