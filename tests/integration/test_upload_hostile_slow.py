#!/usr/bin/env python3
"""The slow-loris cases of test_upload_hostile.py (a server that stops answering, or drips one
byte every 2 s, during creator_info, a chunk PUT and a status poll): each waits the timeout out
and then retries, so this takes about 20 s."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_upload_hostile  # noqa: E402

if __name__ == "__main__":
    sys.exit(test_upload_hostile.main(slow=True))
