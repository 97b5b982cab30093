using System.Globalization;
using System.IO.Compression;
using Palisade.Diagnostics;
using Palisade.Flows.Records;

namespace Palisade.Flows.Reading;

/// <summary>A line of a flow stream that was left out, with where it is and why.</summary>
public sealed record FlowReadProblem(string Source, long Line, int Column, string Code, string Message)
{
    /// <summary><c>file:line:col: error PAL0100: message</c>, as every Palisade diagnostic reads.</summary>
    public override string ToString() =>
        Line > 0 ? string.Create(CultureInfo.InvariantCulture, $"{Source}:{Line}:{Column}: error {Code}: {Message}") : $"{Source}: error {Code}: {Message}";
}

/// <summary>
/// What reading one or more flow sources found: lines, flows, other responses, and the malformed
/// lines (the first <see cref="MaxProblems"/> of them with their place; all of them counted).
/// Thread-safe for one writer and any number of readers of the counts.
/// </summary>
public sealed class FlowReadReport
{
    /// <summary>How many problems are kept with their place; the rest are only counted.</summary>
    public const int MaxProblems = 100;

    private readonly List<FlowReadProblem> _problems = [];
    private readonly List<string> _sources = [];
    private long _lines;
    private long _flows;
    private long _notFlows;
    private long _malformed;
    private long _bytes;

    /// <summary>Lines read, blank ones included.</summary>
    public long Lines => Interlocked.Read(ref _lines);

    /// <summary>Flows read.</summary>
    public long Flows => Interlocked.Read(ref _flows);

    /// <summary>Lines that held another kind of Hubble response (lost events, node status, agent or debug events).</summary>
    public long NotFlows => Interlocked.Read(ref _notFlows);

    /// <summary>Lines that were left out because they are not flows in JSON, and sources that could not be read to the end.</summary>
    public long Malformed => Interlocked.Read(ref _malformed);

    /// <summary>Bytes read (after decompression).</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>The first <see cref="MaxProblems"/> problems, by source in the order read, then by line (lines may be parsed on several threads).</summary>
    public IReadOnlyList<FlowReadProblem> Problems
    {
        get
        {
            lock (_problems)
            {
                return [.. _problems.OrderBy(p => _sources.IndexOf(p.Source)).ThenBy(static p => p.Line)];
            }
        }
    }

    internal void Begin(string source)
    {
        lock (_problems)
        {
            if (!_sources.Contains(source))
            {
                _sources.Add(source);
            }
        }
    }

    internal void Line(long bytes)
    {
        Interlocked.Increment(ref _lines);
        Interlocked.Add(ref _bytes, bytes + 1);
    }

    internal void Flow() => Interlocked.Increment(ref _flows);

    internal void NotFlow() => Interlocked.Increment(ref _notFlows);

    internal void Problem(FlowReadProblem problem)
    {
        Interlocked.Increment(ref _malformed);
        lock (_problems)
        {
            if (_problems.Count < MaxProblems)
            {
                _problems.Add(problem);
            }
        }
    }
}

/// <summary>
/// Reads Hubble flow files and streams: <c>hubble observe -o jsonpb</c> or <c>-o json</c> output and
/// Hubble exporter files, plain or gzip (recognised by content, not by name), one JSON object per
/// line. A malformed line is counted and reported with its line and column, and reading goes on.
/// </summary>
public static class FlowFileReader
{
    /// <summary>The longest line accepted (Hubble lines are a few kilobytes); a longer one is malformed.</summary>
    public const int MaxLineBytes = 16 * 1024 * 1024;

    /// <summary>
    /// The files a path stands for: a file is itself; a folder is its flow files (<c>*.json</c>,
    /// <c>*.jsonl</c>, <c>*.log</c>, and those with <c>.gz</c>), in rotation order. Hubble's exporter
    /// names rotated files <c>NAME-2026-11-28T10-00-00.000.EXT</c> beside the active <c>NAME.EXT</c>,
    /// so ordinal name order puts the rotated files first, oldest first, and the active file last.
    /// Files still being compressed (<c>.gz.tmp</c>) are left out.
    /// </summary>
    public static IReadOnlyList<string> Expand(string path)
    {
        if (!Directory.Exists(path))
        {
            return [path];
        }

        var files = Directory.EnumerateFiles(path)
            .Where(static f => IsFlowFile(Path.GetFileName(f)))
            .ToList();
        files.Sort(static (a, b) => string.CompareOrdinal(RotationKey(a), RotationKey(b)));
        return files;
    }

    private static bool IsFlowFile(string name)
    {
        var bare = name.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? name[..^3] : name;
        return bare.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || bare.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) ||
            bare.EndsWith(".log", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Sorts <c>NAME-TIME.EXT[.gz]</c> before <c>NAME.EXT</c>: the key is the name without extensions, then a marker.</summary>
    private static string RotationKey(string file)
    {
        var name = Path.GetFileName(file);
        var stem = name.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? name[..^3] : name;
        stem = Path.GetFileNameWithoutExtension(stem);
        return stem + "\u0001" + name;
    }

    /// <summary>
    /// Reads flows from <paramref name="stream"/>, gzip or plain, in batches of the flows of up to
    /// <paramref name="batchSize"/> lines. <paramref name="source"/> names the stream in problems (a file
    /// name, or <c>-</c> for standard input). A stream that breaks off (a truncated gzip file) ends the
    /// batches with a problem; what was read before it is kept.
    /// </summary>
    public static IEnumerable<FlowRecord[]> ReadBatches(Stream stream, string source, FlowReadReport report, int batchSize = 8192, CancellationToken cancel = default)
    {
        var parser = new HubbleFlowParser();
        foreach (var chunk in ReadChunks(stream, source, report, batchSize, cancel))
        {
            using (chunk)
            {
                var flows = Parse(chunk, parser, report);
                if (flows.Length > 0)
                {
                    yield return flows;
                }
            }
        }
    }

    /// <summary>
    /// Splits <paramref name="stream"/> into chunks of up to <paramref name="lines"/> lines, copied out of
    /// the reader's buffer so that they can be parsed on other threads (<see cref="Parse"/>). Lines too
    /// long to be flows are reported here and left out. Dispose each chunk when parsed.
    /// </summary>
    public static IEnumerable<FlowLineChunk> ReadChunks(Stream stream, string source, FlowReadReport report, int lines = 8192, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(report);
        ArgumentOutOfRangeException.ThrowIfLessThan(lines, 1);
        report.Begin(source);
        using var splitter = new LineSplitter(stream, source, report);
        var chunk = new FlowLineChunk(source, Math.Min(lines, 65_536));
        while (true)
        {
            cancel.ThrowIfCancellationRequested();
            if (!splitter.TryNext(out var line, out var number))
            {
                break;
            }

            report.Line(line.Length);
            if (line.Length > MaxLineBytes)
            {
                report.Problem(new FlowReadProblem(source, number, 1, DiagnosticCodes.MalformedFlow, $"the line is longer than {MaxLineBytes} bytes; expected one Hubble flow per line"));
                continue;
            }

            chunk.Add(line.Span, number, splitter.Unterminated);
            if (chunk.Count >= lines)
            {
                // The next chunk's buffer starts as large as this one's lines and an eighth more: growing
                // it line by line would copy the chunk again at each doubling.
                var bytes = chunk.Bytes;
                yield return chunk;
                chunk = new FlowLineChunk(source, Math.Min(lines, 65_536), bytes + (bytes / 8));
            }
        }

        if (chunk.Count > 0)
        {
            yield return chunk;
        }
        else
        {
            chunk.Dispose();
        }
    }

    /// <summary>Parses a chunk's lines with <paramref name="parser"/> (one per thread), counting and reporting into <paramref name="report"/>.</summary>
    public static FlowRecord[] Parse(FlowLineChunk chunk, HubbleFlowParser parser, FlowReadReport report)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        ArgumentNullException.ThrowIfNull(parser);
        ArgumentNullException.ThrowIfNull(report);
        var flows = new FlowRecord[chunk.Count];
        var count = 0;
        for (var i = 0; i < chunk.Count; i++)
        {
            switch (parser.TryParse(chunk.Line(i), out var flow, out var error))
            {
                case FlowLineKind.Flow:
                    report.Flow();
                    flows[count++] = flow!;
                    break;
                case FlowLineKind.NotAFlow:
                    report.NotFlow();
                    break;
                case FlowLineKind.Malformed:
                    var message = chunk.EndsStream(i) ? error.Message + " (the stream ends in the middle of this line: a file still being written, or cut short)" : error.Message;
                    report.Problem(new FlowReadProblem(chunk.Source, chunk.LineNumber(i), error.Column, DiagnosticCodes.MalformedFlow, message));
                    break;
            }
        }

        if (count < flows.Length)
        {
            Array.Resize(ref flows, count);
        }

        return flows;
    }

    /// <summary>Opens a flow file for <see cref="ReadBatches"/>; <c>-</c> is standard input.</summary>
    public static Stream Open(string path) =>
        path == "-" ? Console.OpenStandardInput() : new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, FileOptions.SequentialScan);

    /// <summary>
    /// Splits a stream into lines without copying them, decompressing gzip when the stream starts with
    /// its magic bytes. Lines are handed out as memory in its buffer, valid until the next call.
    /// </summary>
    private sealed class LineSplitter : IDisposable
    {
        private readonly string _source;
        private readonly FlowReadReport _report;
        private Stream _stream;
        private byte[] _buffer = new byte[1 << 20];
        private int _start;
        private int _end;
        private long _line;
        private bool _eof;
        private bool _first = true;
        private bool _skipRest;

        /// <summary>True when the last line handed out ended the stream without a line break.</summary>
        public bool Unterminated { get; private set; }

        public LineSplitter(Stream stream, string source, FlowReadReport report)
        {
            _stream = stream;
            _source = source;
            _report = report;
        }

        public bool TryNext(out ReadOnlyMemory<byte> line, out long number)
        {
            while (true)
            {
                var newline = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
                if (newline >= 0)
                {
                    var length = newline;
                    var at = _start;
                    _start += newline + 1;
                    _line++;
                    if (_skipRest)
                    {
                        // The tail of a line longer than the buffer allows: already reported.
                        _skipRest = false;
                        continue;
                    }

                    line = _buffer.AsMemory(at, length > 0 && _buffer[at + length - 1] == '\r' ? length - 1 : length);
                    number = _line;
                    return true;
                }

                if (_eof)
                {
                    if (_end > _start && !_skipRest)
                    {
                        _line++;
                        Unterminated = true;
                        line = _buffer.AsMemory(_start, _end - _start);
                        number = _line;
                        _start = _end;
                        return true;
                    }

                    line = default;
                    number = _line;
                    return false;
                }

                Fill();
            }
        }

        private void Fill()
        {
            if (_start > 0)
            {
                _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
                _end -= _start;
                _start = 0;
            }

            if (_end == _buffer.Length)
            {
                if (_buffer.Length >= MaxLineBytes)
                {
                    // One line fills the whole buffer: report it once and drop what is buffered.
                    _line++;
                    _report.Problem(new FlowReadProblem(_source, _line, 1, DiagnosticCodes.MalformedFlow, $"the line is longer than {MaxLineBytes} bytes; expected one Hubble flow per line"));
                    _line--;
                    _skipRest = true;
                    _end = 0;
                }
                else
                {
                    Array.Resize(ref _buffer, _buffer.Length * 2);
                }
            }

            int read;
            try
            {
                read = _stream.Read(_buffer, _end, _buffer.Length - _end);
            }
            catch (Exception failure) when (failure is IOException or InvalidDataException)
            {
                _report.Problem(new FlowReadProblem(_source, _line + 1, 1, DiagnosticCodes.UnreadableFlowFile, $"the stream breaks off here ({failure.Message}); the {_line} lines before it are kept"));
                _eof = true;
                _end = _start;
                return;
            }

            if (_first)
            {
                _first = false;
                if (read >= 2 && _buffer[0] == 0x1f && _buffer[1] == 0x8b)
                {
                    var prefix = _buffer.AsSpan(0, read).ToArray();
                    _stream = new GZipStream(new PrefixedStream(prefix, _stream), CompressionMode.Decompress);
                    _end = 0;
                    Fill();
                    return;
                }
            }

            if (read == 0)
            {
                _eof = true;
            }

            _end += read;
        }

        public void Dispose() => _stream.Dispose();
    }

    /// <summary>A stream that first returns bytes already read from another, then the rest of it.</summary>
    private sealed class PrefixedStream(byte[] prefix, Stream inner) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_position < prefix.Length)
            {
                var n = Math.Min(buffer.Length, prefix.Length - _position);
                prefix.AsSpan(_position, n).CopyTo(buffer);
                _position += n;
                return n;
            }

            return inner.Read(buffer);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}

/// <summary>A run of lines of one source, copied into a pooled buffer: the unit parsed on one thread.</summary>
public sealed class FlowLineChunk : IDisposable
{
    private byte[] _data;
    private (int Start, int Length, long Number)[] _lines;
    private int _count;
    private int _used;
    private bool _endsStream;

    /// <summary>A chunk for up to <paramref name="capacity"/> lines, whose buffer starts at <paramref name="bytes"/> (what the last chunk took, so that it seldom grows).</summary>
    internal FlowLineChunk(string source, int capacity, int bytes = 1 << 16)
    {
        Source = source;
        // Both from the pool: at 8,192 lines each is large enough to be a large object, which a new one each chunk would make the collector walk the whole heap for.
        _lines = System.Buffers.ArrayPool<(int, int, long)>.Shared.Rent(capacity);
        _data = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(bytes, 1 << 16));
    }

    /// <summary>The bytes the chunk's lines take.</summary>
    internal int Bytes => _used;

    /// <summary>The file or stream the lines came from.</summary>
    public string Source { get; }

    /// <summary>How many lines the chunk holds.</summary>
    public int Count => _count;

    internal void Add(ReadOnlySpan<byte> line, long number, bool endsStream)
    {
        if (_used + line.Length > _data.Length)
        {
            var larger = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(_data.Length * 2, _used + line.Length));
            _data.AsSpan(0, _used).CopyTo(larger);
            System.Buffers.ArrayPool<byte>.Shared.Return(_data);
            _data = larger;
        }

        line.CopyTo(_data.AsSpan(_used));
        if (_count == _lines.Length)
        {
            var more = System.Buffers.ArrayPool<(int, int, long)>.Shared.Rent(_lines.Length * 2);
            _lines.AsSpan(0, _count).CopyTo(more);
            System.Buffers.ArrayPool<(int, int, long)>.Shared.Return(_lines);
            _lines = more;
        }

        _lines[_count++] = (_used, line.Length, number);
        _used += line.Length;
        _endsStream = endsStream;
    }

    /// <summary>The text of line <paramref name="index"/> of the chunk.</summary>
    public ReadOnlySpan<byte> Line(int index) => _data.AsSpan(_lines[index].Start, _lines[index].Length);

    /// <summary>The line's number in its source, from 1.</summary>
    public long LineNumber(int index) => _lines[index].Number;

    /// <summary>Whether the line is the last of its stream and had no line break after it.</summary>
    public bool EndsStream(int index) => _endsStream && index == _count - 1;

    /// <summary>Gives the buffer back to the pool.</summary>
    public void Dispose()
    {
        if (_data.Length > 0)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(_data);
            System.Buffers.ArrayPool<(int, int, long)>.Shared.Return(_lines);
            _data = [];
            _lines = [];
            _count = 0;
        }
    }
}
