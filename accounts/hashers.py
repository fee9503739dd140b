"""Password hashing: Argon2id, one lane.

Django's Argon2 hasher runs 8 lanes (threads) per hash. On a shared host each of those threads
competes for the CPU on its own, so a flood of logins at a low priority (nice) still takes most
of the machine from the processes beside it, the authorization responder among them
(bench/bench_login_flood.py). One lane keeps the same memory cost (100 MiB a hash) and time
cost, so guessing is as expensive as before, while a hash takes one core instead of all of
them. Hashes made with 8 lanes still verify, and are rewritten with one lane at the next login.
"""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class SingleLaneArgon2PasswordHasher(Argon2PasswordHasher):
    parallelism = 1
