package dev.m2mfa.verifier;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** Reads {@code \n}-terminated UTF-8 lines, refusing any line longer than a bound. */
final class BoundedLineReader {

    private final InputStream in;
    private final int maxLineBytes;
    private final byte[] buf = new byte[8192];
    private int pos;
    private int limit;
    private byte[] line = new byte[256];

    BoundedLineReader(InputStream in, int maxLineBytes) {
        this.in = in;
        this.maxLineBytes = maxLineBytes;
    }

    /** The next line without its terminator ({@code \r\n} or {@code \n}), or null at the end. */
    String readLine() throws IOException {
        int len = 0;
        while (true) {
            if (pos == limit) {
                int n = in.read(buf);
                if (n < 0) {
                    // A partial last line is dropped: the stream promises whole lines.
                    return null;
                }
                pos = 0;
                limit = n;
                continue;
            }
            byte b = buf[pos++];
            if (b == '\n') {
                if (len > 0 && line[len - 1] == '\r') {
                    len--;
                }
                return new String(line, 0, len, StandardCharsets.UTF_8);
            }
            if (len == maxLineBytes) {
                throw new IOException("A line of the stream is longer than " + maxLineBytes + " bytes.");
            }
            if (len == line.length) {
                line = Arrays.copyOf(line, Math.min(maxLineBytes, line.length * 2));
            }
            line[len++] = b;
        }
    }
}
