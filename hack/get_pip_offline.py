# Stand-in for get-pip.py, which ansible-test downloads from a host this
# machine cannot reach. It bootstraps pip from the interpreter's own ensurepip
# (run as a subprocess: in-process ensurepip hides the machine's pip config),
# then installs what ansible-test asked for.
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
if args:
    subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
