from bizinfra.cli import run

run()
