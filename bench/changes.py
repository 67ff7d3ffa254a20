"""Changes for the refresh measurement: N add-ons whose answers change.

Each chosen add-on gets a new hash on the file it currently offers, with a
fresh `modified`, all committed in one transaction: what a batch of
approvals looks like to the refresher.
"""

import random

CHANGE_SQL = "UPDATE files SET hash = %s, modified = NOW() WHERE id = %s"


def commit_changes(db, data, count, seed=1):
    """Change `count` add-ons of the loaded index `data` (fewer if it has fewer
    with a candidate); returns how many were changed."""
    rng = random.Random(seed)
    offered = sorted((key, entry) for key, entry in data.index.items() if entry.candidates)
    chosen = rng.sample(offered, min(count, len(offered)))
    with db.transaction():
        for _, entry in chosen:
            candidate = next(iter(entry.candidates.values()))[0]
            db.execute(CHANGE_SQL, (f"sha256:{rng.getrandbits(256):064x}", candidate.file_id))
    return len(chosen)
