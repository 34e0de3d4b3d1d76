package dev.offheap.allocator.testkit;

import dev.offheap.allocator.Allocator;
import dev.offheap.allocator.AllocatorClosedException;
import dev.offheap.allocator.AllocatorStats;
import dev.offheap.allocator.DoubleFreeException;
import dev.offheap.allocator.InvalidAddressException;
import dev.offheap.allocator.OffHeapOutOfMemoryException;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.state.Action;
import net.jqwik.api.state.ActionChain;
import net.jqwik.api.state.Transformer;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Map;
import java.util.TreeMap;

/**
 * A model-based property test (jqwik stateful actions) that every {@link Allocator} runs: random chains of
 * allocate, free and reallocate against a model of the live blocks. Every block is filled with a pattern
 * derived from its id and checked before it is freed or resized and after every step; blocks must never
 * overlap. Running out of memory is allowed, and must change nothing.
 */
public abstract class AllocatorModelProperties {

    /** A new allocator; the chain closes it at the end. */
    protected abstract Allocator create();

    /** The largest size the chain asks for. */
    protected long maxBlockBytes() {
        return 16 * 1024;
    }

    /** The largest alignment the chain asks for. */
    protected long maxAlignment() {
        return 256;
    }

    @Property(tries = 200)
    void behavesLikeTheModel(@ForAll("chains") ActionChain<Model> chain) {
        chain.withInvariant("every live block intact, counters agree", Model::checkAll).run().close();
    }

    @Provide
    Arbitrary<ActionChain<Model>> chains() {
        return ActionChain.<Model>startWith(() -> new Model(create()))
                .withAction(3, new AllocateAction())
                .withAction(2, new FreeAction())
                .withAction(1, new ReallocateAction())
                .withMaxTransformations(200);
    }

    private Arbitrary<Long> sizes() {
        long max = maxBlockBytes();
        return Arbitraries.frequencyOf(
                weighted(6, Arbitraries.longs().between(0, Math.min(128, max))),
                weighted(3, Arbitraries.longs().between(0, Math.min(2048, max))),
                weighted(1, Arbitraries.longs().between(0, max)));
    }

    private static Tuple.Tuple2<Integer, Arbitrary<? extends Long>> weighted(int weight, Arbitrary<Long> values) {
        return Tuple.of(weight, values);
    }

    /** The allocator and what it must hold: live block address to (id, size asked for). */
    public static final class Model {
        final Allocator allocator;
        final TreeMap<Long, long[]> blocks = new TreeMap<>();
        long nextId;

        Model(Allocator allocator) {
            this.allocator = allocator;
        }

        void close() {
            allocator.close();
        }

        void add(long address, long size) {
            Map.Entry<Long, long[]> below = blocks.floorEntry(address);
            if (below != null && below.getKey() + below.getValue()[1] > address) {
                throw new AssertionError("block at " + Long.toHexString(address) + " overlaps the live block at "
                        + Long.toHexString(below.getKey()));
            }
            Map.Entry<Long, long[]> above = blocks.ceilingEntry(address);
            if (above != null && address + size > above.getKey()) {
                throw new AssertionError("block at " + Long.toHexString(address) + " of " + size
                        + " bytes overlaps the live block at " + Long.toHexString(above.getKey()));
            }
            if (address == 0 || address % Allocator.MIN_ALIGNMENT != 0) {
                throw new AssertionError("bad address " + Long.toHexString(address));
            }
            long id = nextId++;
            MemorySegment block = allocator.segment(address);
            if (block.byteSize() < size) {
                throw new AssertionError("usable " + block.byteSize() + " < asked " + size);
            }
            for (long i = 0; i < size; i = nextChecked(i, size)) {
                block.set(ValueLayout.JAVA_BYTE, i, pattern(id, i));
            }
            blocks.put(address, new long[] {id, size});
        }

        void check(long address) {
            long[] block = blocks.get(address);
            MemorySegment memory = allocator.segment(address);
            for (long i = 0; i < block[1]; i = nextChecked(i, block[1])) {
                if (memory.get(ValueLayout.JAVA_BYTE, i) != pattern(block[0], i)) {
                    throw new AssertionError("block #" + block[0] + " at " + Long.toHexString(address)
                            + " changed at byte " + i);
                }
            }
        }

        void checkAll() {
            blocks.keySet().forEach(this::check);
            AllocatorStats stats = allocator.stats();
            if (stats.liveBlocks() != blocks.size()) {
                throw new AssertionError("stats say " + stats.liveBlocks() + " live blocks, the model " + blocks.size());
            }
            long usable = 0;
            for (long address : blocks.keySet()) {
                usable += allocator.usableSize(address);
            }
            if (stats.allocatedBytes() != usable) {
                throw new AssertionError("stats say " + stats.allocatedBytes() + " bytes allocated, blocks hold "
                        + usable);
            }
        }

        /**
         * The bytes the pattern covers: every byte of the first and last 4 KiB of a block, and every 509th
         * between, so that megabyte blocks stay cheap to check at every step.
         */
        static long nextChecked(long i, long size) {
            return i < 4096 || i + 1 >= size - 4096 ? i + 1 : Math.min(i + 509, size - 4096);
        }

        static byte pattern(long id, long i) {
            return (byte) (id * 131 + i * 17 + (i >>> 8));
        }

        @Override
        public String toString() {
            return allocator + " with " + blocks.size() + " live blocks";
        }
    }

    class AllocateAction implements Action.Independent<Model> {
        @Override
        public Arbitrary<Transformer<Model>> transformer() {
            Arbitrary<Long> alignments = Arbitraries.frequencyOf(
                    weighted(8, Arbitraries.just(16L)),
                    weighted(1, Arbitraries.of(32L, 64L, 128L, 256L).filter(a -> a <= maxAlignment())));
            return sizes().flatMap(size -> alignments.map(alignment -> Transformer.mutate(
                    "allocate(" + size + ", " + alignment + ")", model -> {
                        try {
                            long address = model.allocator.allocate(size, alignment);
                            if (address % alignment != 0) {
                                throw new AssertionError("misaligned " + Long.toHexString(address));
                            }
                            model.add(address, size);
                        } catch (OffHeapOutOfMemoryException full) {
                            // Allowed; the invariant checks that nothing changed.
                        }
                    })));
        }
    }

    static final class FreeAction implements Action.Dependent<Model> {
        @Override
        public boolean precondition(Model model) {
            return !model.blocks.isEmpty();
        }

        @Override
        public Arbitrary<Transformer<Model>> transformer(Model model) {
            return Arbitraries.of(new ArrayList<>(model.blocks.keySet())).map(address -> Transformer.mutate(
                    "free(#" + model.blocks.get(address)[0] + ")", m -> {
                        m.check(address);
                        m.blocks.remove(address);
                        m.allocator.free(address);
                    }));
        }
    }

    class ReallocateAction implements Action.Dependent<Model> {
        @Override
        public boolean precondition(Model model) {
            return !model.blocks.isEmpty();
        }

        @Override
        public Arbitrary<Transformer<Model>> transformer(Model model) {
            return Arbitraries.of(new ArrayList<>(model.blocks.keySet())).flatMap(address -> sizes().map(
                    newSize -> Transformer.mutate("reallocate(#" + model.blocks.get(address)[0] + ", " + newSize + ")",
                            m -> {
                                m.check(address);
                                long[] old = m.blocks.get(address);
                                long moved;
                                try {
                                    moved = m.allocator.reallocate(address, newSize);
                                } catch (OffHeapOutOfMemoryException full) {
                                    return; // the old block must be intact: the invariant checks it
                                }
                                MemorySegment memory = m.allocator.segment(moved);
                                long kept = Math.min(old[1], newSize);
                                for (long i = 0; i < kept; i = Model.nextChecked(i, old[1])) {
                                    if (memory.get(ValueLayout.JAVA_BYTE, i) != Model.pattern(old[0], i)) {
                                        throw new AssertionError("reallocate lost byte " + i + " of block #" + old[0]);
                                    }
                                }
                                m.blocks.remove(address);
                                m.add(moved, newSize);
                            })));
        }
    }
}
