package dev.offheap.allocator.offheap;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * r1: the allocation took the stashed block (1) or found none (0); r2: blocks the purge gave back to their chunk;
 * r3: blocks left in the stash.
 */
@JCStressTest
@Description("An allocation takes a block from the medium stash while the purge drains the stash: the "
        + "compare-and-set on the slot gives the block to exactly one of them.")
@Outcome(id = "1, 0, 0", expect = ACCEPTABLE, desc = "The allocation took it first.")
@Outcome(id = "0, 1, 0", expect = ACCEPTABLE, desc = "The purge gave it back first; the allocation found none.")
@Outcome(expect = FORBIDDEN, desc = "Both got it (handed out while freed in its chunk), or it was lost.")
@State
public class StashTakeVsDrainTest {
    private final MediumStash stash = new MediumStash();
    private int drained;

    public StashTakeVsDrainTest() {
        stash.offer(1 << 20, 5000 - 5000 % 8, 0);
    }

    @Actor
    public void allocation(III_Result r) {
        r.r1 = stash.take(4800, 16) != 0 ? 1 : 0;
    }

    @Actor
    public void purge(III_Result r) {
        stash.drain(Integer.MAX_VALUE, offset -> drained++);
        r.r2 = drained;
    }

    @Arbiter
    public void afterwards(III_Result r) {
        r.r3 = stash.count();
    }
}
