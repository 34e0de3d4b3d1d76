package dev.offheap.allocator.examples;

import dev.offheap.allocator.offheap.MemorySource;
import dev.offheap.allocator.offheap.OffHeapAllocator;
import dev.offheap.allocator.offheap.OffHeapAllocatorConfig;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;

// tag::mapped-imports[]
import static java.nio.channels.FileChannel.MapMode.READ_WRITE;
import static java.nio.file.StandardOpenOption.CREATE;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;
// end::mapped-imports[]

/** README's mapped-file snippet: an allocator over a file the program maps, closing what it opens. */
public final class MappedFile {

    private MappedFile() {
    }

    public static void main(String[] args) throws IOException {
        Path path = args.length > 0 ? Path.of(args[0]) : Files.createTempFile("offheap-", ".region");
        long size = 16L << 20;
        // tag::mapped[]
        try (Arena arena = Arena.ofShared();
             FileChannel file = FileChannel.open(path, CREATE, READ, WRITE)) {   // throws IOException
            MemorySegment region = file.map(READ_WRITE, 0, size, arena);
            try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig()
                    .memorySource(MemorySource.of(region)).maxBytes(size))) {
                // ...
                // end::mapped[]
                long address = allocator.allocate(1000);
                allocator.segment(address).setString(0, "in a file");
                System.out.println(allocator.segment(address).getString(0) + " at " + path);
                allocator.free(address);
                // tag::mapped-end[]
            }
        }
        // end::mapped-end[]
        if (args.length == 0) {
            Files.delete(path);
        }
    }
}
