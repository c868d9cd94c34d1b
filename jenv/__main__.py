from jenv.login import run_and_exit

run_and_exit()
