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
 * Two actors, so that it runs on 2 cores (jcstress skips a test with more actors than CPUs).
 *
 * <p>r1: the owner's free of slot 1 pushed it (1) or handed it over as a remote free (2); r2: the purger took the slab
 * from the owner's cache (1) or not (0); r3: 1 if at the end slots 0 and 1 are each free exactly once; r4: 1 if
 * the free stack changed after the purger took the slab.
 */
@JCStressTest
@Description("ThreadCache.takePartlyUsed, the purger's caller of the hand-over, against the owner freeing slot 1 of "
        + "the slab (as the allocator's free does), slot 0 having been freed remotely before. The purger must not "
        + "touch the free stack before the owner is revoked: a collect of the remote free there would race the "
        + "owner's push and lose a slot.")
@Outcome(id = {"1, 0, 1, 0", "1, 1, 1, 0", "2, 0, 1, 0", "2, 1, 1, 0"}, expect = ACCEPTABLE,
        desc = "Every slot free once; nothing pushed after the slab was taken.")
@Outcome(expect = FORBIDDEN, desc = "A slot lost or free twice, or a push after the slab was taken.")
@State
public class OwnerFreeVsTakePartlyUsedTest {
    private final SlabFixture fixture = new SlabFixture();
    private final ThreadCache cache = new ThreadCache(fixture.owner, GlobalHeap.SMALL_CLASSES);
    private int freeTopWhenTaken = -1;

    public OwnerFreeVsTakePartlyUsedTest() {
        fixture.slab.adoptBy(cache);
        cache.addOwned(fixture.slab); // owned, not current
        fixture.slab.pushRemote(fixture.memory, 0); // a remote free waiting to be collected
    }

    @Actor
    public void owner(IIII_Result r) {
        r.r1 = fixture.ownerFrees(1);
    }

    @Actor
    public void purger(IIII_Result r) {
        if (cache.takePartlyUsed(fixture.slab.sizeClass, 0) != null) {
            freeTopWhenTaken = fixture.slab.freeTop;
            r.r2 = 1;
        }
    }

    @Arbiter
    public void afterwards(IIII_Result r) {
        Slab slab = fixture.slab;
        r.r4 = r.r2 == 1 && slab.freeTop != freeTopWhenTaken ? 1 : 0;
        r.r3 = fixture.timesFree(0) == 1 && fixture.timesFree(1) == 1 && slab.freeTop == 2 ? 1 : 0;
    }
}
