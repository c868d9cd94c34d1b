from jenv.fastpath import run_and_exit

run_and_exit()
