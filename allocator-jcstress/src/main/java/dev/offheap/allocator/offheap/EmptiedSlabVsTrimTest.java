package dev.offheap.allocator.offheap;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * A live thread's cache owns a current slab and a second slab of two slots, one free on its stack and one live.
 * r1: the owner must give the slab back (1) or not (0); r2: the purger took it (1), left it (0), or found the
 * owner in its slow path and skipped the cache (-1); r3: the slab is the cache's spare; r4: the cache still
 * owns it.
 */
@JCStressTest
@Description("The owner frees the last live block of a non-current slab (a plain push) and, in its slow path, "
        + "keeps the emptied slab as the class's spare, while the purger trims the cache (one slab under the "
        + "trim flag: take it if it is not current, not the spare, and has no live block). The purger may read a "
        + "stale free count and leave the slab; it must never take a slab the owner kept, and the owner must "
        + "never keep or give back a slab the purger took.")
@Outcome(id = "0, 0, 1, 1", expect = ACCEPTABLE, desc = "The purger looked first and saw a live block, or "
        + "looked after the owner made it the spare: the owner keeps it as the spare.")
@Outcome(id = "0, -1, 1, 1", expect = ACCEPTABLE, desc = "The owner was in its slow path: the purger skipped "
        + "the cache; the owner keeps the slab as the spare.")
@Outcome(id = "0, 1, 0, 0", expect = ACCEPTABLE, desc = "The purger saw the owner's push and took the empty "
        + "slab; the owner then found it gone and left it alone.")
@Outcome(expect = FORBIDDEN, desc = "Taken by the purger yet kept or given back by the owner, or lost by both.")
@State
public class EmptiedSlabVsTrimTest {
    private final SlabFixture current = new SlabFixture();
    private final SlabFixture emptied = new SlabFixture();
    private final ThreadCache cache = new ThreadCache(Thread.currentThread(), GlobalHeap.SMALL_CLASSES);

    public EmptiedSlabVsTrimTest() {
        Slab slab = emptied.slab;
        slab.pushLocal(1); // freed by the owner earlier: slot 1 on the stack, slot 0 live
        for (Slab owned : new Slab[] {current.slab, slab}) {
            owned.owner = cache;
            owned.ownerThread = cache.thread;
            cache.addOwned(owned);
        }
        cache.current[slab.sizeClass] = current.slab;
    }

    @Actor
    public void owner(IIII_Result r) {
        Slab slab = emptied.slab;
        if (slab.pushLocal(0) == slab.slotCount) {
            cache.enterSlowPath();
            try {
                r.r1 = cache.keepEmptied(slab) ? 1 : 0;
            } finally {
                cache.exitSlowPath();
            }
        }
    }

    @Actor
    public void purger(IIII_Result r) {
        if (!cache.tryEnterToTrim()) {
            r.r2 = -1;
            return;
        }
        try {
            int c = emptied.slab.sizeClass;
            int index = emptied.slab.ownedIndex; // the owner changes no list here: the index stays valid
            r.r2 = cache.takeUnused(c, index, false, emptied.memory) != null ? 1 : 0;
        } finally {
            cache.exitSlowPath();
        }
    }

    @Arbiter
    public void afterwards(IIII_Result r) {
        Slab slab = emptied.slab;
        r.r3 = cache.spare(slab.sizeClass) == slab ? 1 : 0;
        r.r4 = slab.owner == cache && cache.ownedCount(slab.sizeClass) == 2 ? 1 : 0;
    }
}
