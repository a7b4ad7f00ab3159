"""Runs one flow to completion and one up to a wait, for the terminal output tests.

cd tests && python -m flows.terminal_demo SALT
"""

from __future__ import annotations

import sys

from flows.basic import plain_flow
from flows.waiting import gate_flow

if __name__ == "__main__":
    salt = sys.argv[1]
    print(f"result: {plain_flow(salt)}")
    handle = gate_flow.run(salt, timeout=0)
    print(f"status: {handle.status.value}")
