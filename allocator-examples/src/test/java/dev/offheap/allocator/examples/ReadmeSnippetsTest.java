package dev.offheap.allocator.examples;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * README's snippets are these programs' code: every tagged region ({@code // tag::name[]} to
 * {@code // end::name[]}) of a snippet must be a code block of README, line for line (indentation aside), and
 * every program runs. A snippet that stops compiling, or that README shows other than the code is, fails here.
 */
class ReadmeSnippetsTest {

    private static final Path SOURCES = Path.of("src/main/java/dev/offheap/allocator/examples");

    /** README's ```java blocks, each as its non-blank lines, stripped. */
    private static List<List<String>> readmeBlocks() throws IOException {
        List<List<String>> blocks = new ArrayList<>();
        List<String> block = null;
        for (String line : Files.readAllLines(Path.of("..", "README.md"))) {
            if (block == null && line.strip().equals("```java")) {
                block = new ArrayList<>();
            } else if (block != null && line.strip().equals("```")) {
                blocks.add(block);
                block = null;
            } else if (block != null && !line.isBlank()) {
                block.add(line.strip());
            }
        }
        return blocks;
    }

    /** The non-blank lines, stripped, of the named regions of {@code file}, one after the other. */
    private static List<String> regions(String file, String... tags) throws IOException {
        List<String> lines = Files.readAllLines(SOURCES.resolve(file));
        List<String> out = new ArrayList<>();
        for (String tag : tags) {
            int start = lines.indexOf(lines.stream().filter(l -> l.strip().equals("// tag::" + tag + "[]"))
                    .findFirst().orElseThrow(() -> new AssertionError(file + " has no region " + tag)));
            for (int i = start + 1; !lines.get(i).strip().equals("// end::" + tag + "[]"); i++) {
                if (!lines.get(i).isBlank()) {
                    out.add(lines.get(i).strip());
                }
            }
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"GettingStarted.java allocator-imports allocator",
            "MappedFile.java mapped-imports mapped mapped-end", "CacheExample.java cache-imports cache cache-end",
            "TypedCacheExample.java typed-imports typed-serializer typed typed-end",
            "NettyExample.java netty", "HttpEchoServer.java netty-server"})
    void everySnippetIsAReadmeBlockLineForLine(String spec) throws IOException {
        String[] parts = spec.split(" ");
        List<String> code = regions(parts[0], java.util.Arrays.copyOfRange(parts, 1, parts.length));
        List<List<String>> blocks = readmeBlocks();
        if (!blocks.contains(code)) {
            fail("README has no code block that is " + spec + " line for line; the code is:\n"
                    + String.join("\n", code));
        }
    }

    /** Each program runs to its end: an exception from any of them fails the test. */
    @Test
    void everyExampleRuns() throws Exception {
        GettingStarted.main(new String[0]);
        MappedFile.main(new String[0]);
        CacheExample.main(new String[0]);
        TypedCacheExample.main(new String[0]);
        NettyExample.main(new String[0]);
    }
}
