namespace Palisade.Flows.Reading;

/// <summary><c>--since</c> and <c>--until</c> values: RFC 3339 times, or durations before now (<c>2h</c>, <c>7d</c>, <c>1h30m</c>).</summary>
public static class FlowTimes
{
    /// <summary>Reads a time or a duration before <paramref name="now"/> into nanoseconds since the epoch.</summary>
    public static bool TryParse(string text, DateTimeOffset now, out long nanos)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (Rfc3339.TryParseNanos(text, out nanos))
        {
            return true;
        }

        if (!Palisade.Model.Durations.TryParseNanos(text, out var duration))
        {
            return false;
        }

        nanos = ToNanos(now) - duration;
        return true;
    }

    /// <summary>A time in nanoseconds since the epoch, as flows keep it (to the tick: 100 ns).</summary>
    public static long ToNanos(DateTimeOffset time) => (time.UtcTicks - DateTime.UnixEpoch.Ticks) * 100;
}
