using System.Globalization;

namespace Palisade.Model;

/// <summary>Durations as Go writes them, with days and weeks too: <c>90s</c>, <c>1h30m</c>, <c>7d</c>, <c>2w</c>.</summary>
public static class Durations
{
    /// <summary>Reads a duration into nanoseconds; false for anything else (no sign, no bare number).</summary>
    public static bool TryParseNanos(string? text, out long nanos)
    {
        nanos = 0;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        var i = 0;
        while (i < text.Length)
        {
            var start = i;
            while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.'))
            {
                i++;
            }

            if (i == start || !double.TryParse(text.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount))
            {
                return false;
            }

            var unitStart = i;
            while (i < text.Length && (char.IsAsciiLetter(text[i]) || text[i] == 'µ'))
            {
                i++;
            }

            long unit = text[unitStart..i] switch
            {
                "ns" => 1,
                "us" or "µs" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                "m" => 60_000_000_000,
                "h" => 3_600_000_000_000,
                "d" => 86_400_000_000_000,
                "w" => 604_800_000_000_000,
                _ => 0,
            };
            if (unit == 0)
            {
                return false;
            }

            nanos += (long)(amount * unit);
        }

        return true;
    }

    /// <summary>Reads a duration as a <see cref="TimeSpan"/>.</summary>
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        var ok = TryParseNanos(text, out var nanos);
        duration = TimeSpan.FromTicks(nanos / 100);
        return ok;
    }
}
