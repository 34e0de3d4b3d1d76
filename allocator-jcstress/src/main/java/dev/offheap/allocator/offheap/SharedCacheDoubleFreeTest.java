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
 * A slab of a shared cache (the caches virtual threads use) freed into by two threads at once, the same live slot:
 * a double free across threads. A free through the shared path by the thread that took the cache's lock last
 * takes it again and frees as the owner does (a CAS on the slot's live byte); finding the lock busy, or another
 * thread its last taker, it frees remotely (each actor here first takes and lets go the lock, as its allocation
 * would, so both ways are raced). In each race r1 and r2 say
 * whether each free went through (1) or was refused (0); r3 how many times the slot is free once the remote frees
 * are collected (how many times the next allocations could hand it out; -1 if the lock was left held).
 */
public class SharedCacheDoubleFreeTest {

    /** After the race: the lock must be free and the slot free exactly once. */
    static int timesFree(SlabFixture fixture, ThreadCache shared) {
        return shared.lock.isLocked() ? -1 : fixture.timesFree(1);
    }

    @JCStressTest
    @Description("Two threads free the same slot of a shared cache's slab through the shared path.")
    @Outcome(id = {"1, 0, 1", "0, 1, 1"}, expect = ACCEPTABLE, desc = "One free went through, the other was refused.")
    @Outcome(expect = FORBIDDEN, desc = "Both went through (the slot free twice: handed out twice), or neither.")
    @State
    public static class TwoSharedFrees {
        private final SlabFixture fixture = new SlabFixture();
        private final ThreadCache shared = fixture.shareIt();

        @Actor
        public void virtualThread(III_Result r) {
            r.r1 = fixture.sharedFrees(1);
        }

        @Actor
        public void anotherVirtualThread(III_Result r) {
            r.r2 = fixture.sharedFrees(1);
        }

        @Arbiter
        public void afterwards(III_Result r) {
            r.r3 = timesFree(fixture, shared);
        }
    }

    @JCStressTest
    @Description("A thread frees a slot of a shared cache's slab through the shared path while another frees it"
            + " remotely (CAS), as a platform thread's free of a virtual thread's block does when it finds the lock"
            + " busy.")
    @Outcome(id = {"1, 0, 1", "0, 1, 1"}, expect = ACCEPTABLE, desc = "One free went through, the other was refused.")
    @Outcome(expect = FORBIDDEN, desc = "Both went through (the slot free twice: handed out twice), or neither.")
    @State
    public static class SharedAndRemoteFree {
        private final SlabFixture fixture = new SlabFixture();
        private final ThreadCache shared = fixture.shareIt();

        @Actor
        public void virtualThread(III_Result r) {
            r.r1 = fixture.sharedFrees(1);
        }

        @Actor
        public void remotely(III_Result r) {
            r.r2 = fixture.slab.pushRemote(fixture.memory, 1) ? 1 : 0;
        }

        @Arbiter
        public void afterwards(III_Result r) {
            r.r3 = timesFree(fixture, shared);
        }
    }
}
