/**
 * The production allocator, {@link dev.offheap.allocator.offheap.OffHeapAllocator}, and its layers. The allocator's
 * class comment gives the whole design (glossary, layout, invariants, the steps of allocate and free); this page
 * says which file belongs to which layer, the order of the locks, and each lock-free protocol with its pairing.
 *
 * <h2>Layers and files</h2>
 * <pre>
 *   front end       OffHeapAllocator (fast paths, dispatch), ThreadCache, SharedCaches, Slab, SlabLayout
 *   global heap     GlobalHeap (slabs, huge blocks, the cap, the purge driver), MediumHeap, MediumChunk,
 *                   MediumStash, CacheRegistry, Span, HugeSpan
 *   page layer      PageBuddy (64 KiB pages, committed bits), the page map (GlobalHeap.pageMap)
 *   memory source   MemorySource (reserved address space, a caller's region, an arena), NativeMemory (mmap,
 *                   munmap, madvise downcalls)
 *   diagnostics     HeapVerifier, HeapStats, DebugChecks, Quarantine, LeakTracker, LiveBlock, AllocatorMBean,
 *                   OffHeapAllocatorMXBean, the jfr package
 *   configuration   OffHeapAllocatorConfig, LeakDetection, Lifecycle (purge ticks, JMX, release on close or
 *                   by the cleaner)
 * </pre>
 *
 * <h2>Locks, in order</h2>
 * A thread may take a lock lower in this list while it holds a higher one, never the other way round; where
 * code holding a lower lock needs a higher one it only tries it ({@code tryLock} or a CAS that may fail), and
 * goes on without it.
 * <ol>
 *   <li>a shared cache's lock ({@link java.util.concurrent.locks.ReentrantLock}), or a thread cache's slow-path
 *       flag held by its owner ({@code ThreadCache.enterSlowPath}); the purger, holding the heap lock, only
 *       tries either;</li>
 *   <li>the medium locks ({@code MediumHeap.lock}, one per arena: {@code MediumArenas}, taken in arena order
 *       where more than one is held): the medium chunks (the stash is lock-free); the heap lock holder and the
 *       holder of another medium lock only try one;</li>
 *   <li>the heap lock ({@code GlobalHeap.lock}): the page buddy, the page map's writes, the lists of slabs and
 *       huge blocks, the partial queues, the cache registry;</li>
 *   <li>leaves, which call nothing while held: a range's monitor ({@code MemorySource.OpenRange}: decommit
 *       against close), the quarantine's monitor, {@code SharedCaches}' monitor (growing the stripes).</li>
 * </ol>
 * The purge holds the heap lock in short steps ({@code GlobalHeap.letWaitersIn}) and calls {@code madvise}
 * with no lock held.
 *
 * <h2>Memory-ordering terms</h2>
 * <dl>
 *   <dt>plain</dt><dd>an ordinary field or array access: ordered only by the edges around it</dd>
 *   <dt>opaque</dt><dd>{@code VarHandle.getOpaque/setOpaque}: atomic and eventually seen, with no ordering
 *       against other variables</dd>
 *   <dt>release / acquire</dt><dd>writes before a release are seen by a thread whose acquire reads it</dd>
 *   <dt>volatile</dt><dd>sequentially consistent: volatile fields, CAS, {@code getAndSet}</dd>
 * </dl>
 *
 * <h2>Protocols</h2>
 * <dl>
 *   <dt>page map publication</dt>
 *   <dd>A span is written into {@code pageMap} under the heap lock before any block of it is handed out; a free
 *       reads the page map with no lock. The freeing thread got the address through some happens-before edge
 *       from the allocating thread, which came after the publication, so it sees the span (the same argument
 *       covers the slab's final fields).</dd>
 *
 *   <dt>remote free list ({@code Slab.remote})</dt>
 *   <dd>A remote freer CASes the slot's {@code live} byte 1 &rarr; 0 (a failed CAS is a double free), writes the
 *       slot's link (plain), then publishes it with a CAS on {@code remote} (volatile). The owner takes the whole
 *       list with {@code getAndSet(0)} (volatile) before it reads the links. Pairing: the freer's CAS, the owner's
 *       getAndSet. jcstress: {@code RemoteFreeVsCollectTest}, {@code DetachVsRemoteFreeTest}.</dd>
 *
 *   <dt>the {@code live} byte</dt>
 *   <dd>It leaves 1 (live) only by a CAS: 1 &rarr; 0 by the owner's free, 1 &rarr; 3 by a remote freer's, so of
 *       two frees of one block at the same moment exactly one goes through and the other throws
 *       {@code DoubleFreeException}. The owner writes 0 &rarr; 1 (allocate) and 3 &rarr; 0 (collect) plain: no
 *       other thread writes a slot in those states. A remote freer saw the owner's 1 through the address's
 *       happens-before edge. jcstress: {@code OwnerAndRemoteDoubleFreeTest}, {@code RacingDoubleFreeTest}.</dd>
 *
 *   <dt>detach handshake (Dekker)</dt>
 *   <dd>The heap lock holder detaching a dead thread's slab writes {@code state = DETACHED} (volatile), then reads
 *       {@code remote}; a remote freer CASes {@code remote}, then reads {@code state}. Both sequentially
 *       consistent, so at least one sees the other, and exactly one CAS of {@code state} DETACHED &rarr; QUEUED
 *       queues the slab: a freed slot is never stranded in a slab nobody will look at.</dd>
 *
 *   <dt>the remote-free hint, and what recovers it when lost</dt>
 *   <dd>After a remote free into an owned slab the freer sets {@code ThreadCache.remoteHint[class]} (opaque);
 *       the owner, when its current slab runs dry and no slab is available (or once in {@code owned / 8} such
 *       refills: {@code ThreadCache.collectDue}), clears the hint (opaque) and then reads every owned slab's
 *       {@code remote} of the class. Opaque orders nothing across the two variables, so a freer can read a stale
 *       {@code true}, skip its write, and the owner's scan can miss its push: the hint is lost. Nothing is leaked
 *       by that: the slots wait in the slab's remote list until (a) any later remote free of the class sets the
 *       hint again, and the owner's next scan walks every owned slab of the class; (b) the purger finds the slab
 *       with no live block (remote frees count as free) and releases it; or (c) the owner dies and the registry
 *       collects the slab. The price of the loss is that the owner may take a fresh slab a little early.</dd>
 *
 *   <dt>slow-path flag ({@code ThreadCache.slowPath})</dt>
 *   <dd>The owner CASes it 0 &rarr; 1 around a refill or the release of an emptied slab (spinning, then
 *       yielding, while the purger holds it); the purger tries the CAS once per slab step and skips the cache if
 *       it fails. Release on exit ({@code setRelease}); the CAS acquires. Only a slab with no live block and not
 *       current is ever taken from a live cache. jcstress: {@code EmptiedSlabVsTrimTest}.</dd>
 *
 *   <dt>the fast-path flag ({@code OffHeapAllocator.fastPaths})</dt>
 *   <dd>One volatile read per fast-path call; {@code close()} clears it under the heap lock before the range is
 *       released, and the release waits (FFM's shared-arena handshake) for threads inside an access.</dd>
 *
 *   <dt>purge in flight</dt>
 *   <dd>The purge takes free buddy blocks out of the free lists under the heap lock, {@code madvise}s them with
 *       no lock, and gives them back under the lock; an allocation short of pages meanwhile waits on
 *       {@code GlobalHeap.purgeDone} rather than failing. Medium chunks mark the pages being decommitted in
 *       {@code MediumChunk.purging}; such a chunk takes no allocation, resize or release until they are back.</dd>
 *
 *   <dt>committed bytes with edges ({@code GlobalHeap.edgeBytes})</dt>
 *   <dd>Committed = committed pages &times; 64 KiB &minus; edge bytes, two volatile counters changed together under
 *       the heap lock (and the chunk's medium lock) and read without a lock by {@code committedBytes()}. Where the
 *       figure falls (pages committed with untouched sub-pages as edges) the edges move first; where it rises
 *       (pages decommitted whole, their edges dropped) the pages move first; so every state between the two writes
 *       reads lower. The reader reads the edges, then the pages, then the edges again, and retries if they moved:
 *       it never reports more than the figure at some moment, and a sampler never sees the cap passed.</dd>
 *
 *   <dt>an owner giving up its cold classes ({@code GlobalHeap.releaseColdClasses})</dt>
 *   <dd>Owner only, in a slow path (its slow-path flag held), once a purge tick: the purger is kept out as from
 *       any slow path, and remote freers meet the slabs it detaches through the detach handshake above.</dd>
 * </dl>
 */
package dev.offheap.allocator.offheap;
