package dev.offheap.allocator.offheap;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.JJ_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * One thread frees a block (at 2 MiB) into the empty medium stash while another allocates from it: the slot the
 * free fills is the one the allocation reads. r1: the offset the allocation got (0: none); r2: the offsets left
 * in the stash, summed.
 */
@JCStressTest
@Description("A free and an allocation meet in the lock-free medium stash: each block comes out once, and the "
        + "one not taken stays.")
@Outcome(id = "0, 2097152", expect = ACCEPTABLE, desc = "The allocation came first and found none; the block stays.")
@Outcome(id = "2097152, 0", expect = ACCEPTABLE, desc = "The allocation took the block just stashed.")
@Outcome(expect = FORBIDDEN, desc = "A block handed out and still stashed, or lost.")
@State
public class StashOfferVsTakeTest {
    private static final long BLOCK = 2 << 20;
    private final MediumStash stash = new MediumStash();

    @Actor
    public void free() {
        stash.offer(BLOCK, 4992, 0);
    }

    @Actor
    public void allocation(JJ_Result r) {
        r.r1 = MediumStash.offsetOf(stash.take(4800, 16));
    }

    @Arbiter
    public void afterwards(JJ_Result r) {
        long left = 0;
        for (long entry; (entry = stash.take(4800, 16)) != 0; ) {
            left += MediumStash.offsetOf(entry);
        }
        r.r2 = left;
    }
}
