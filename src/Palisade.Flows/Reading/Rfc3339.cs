namespace Palisade.Flows.Reading;

/// <summary>
/// RFC 3339 times to nanoseconds since the epoch, exactly: protojson writes a Timestamp with up to
/// nine fractional digits, more than <see cref="DateTimeOffset"/> keeps.
/// </summary>
public static class Rfc3339
{
    /// <summary>Reads <c>2026-11-28T10:00:00Z</c>, <c>2026-11-28T10:00:00.123456789Z</c> or <c>...+01:00</c> (ASCII, UTF-8 bytes).</summary>
    public static bool TryParseNanos(ReadOnlySpan<byte> text, out long nanos)
    {
        nanos = 0;
        if (text.Length < 20 || text[4] != '-' || text[7] != '-' || (text[10] | 0x20) != 't' || text[13] != ':' || text[16] != ':')
        {
            return false;
        }

        if (!Digits(text, 0, 4, out var year) || !Digits(text, 5, 2, out var month) || !Digits(text, 8, 2, out var day) ||
            !Digits(text, 11, 2, out var hour) || !Digits(text, 14, 2, out var minute) || !Digits(text, 17, 2, out var second))
        {
            return false;
        }

        var i = 19;
        long fraction = 0;
        if (i < text.Length && text[i] == '.')
        {
            i++;
            var digits = 0;
            while (i < text.Length && (uint)(text[i] - '0') <= 9)
            {
                if (digits < 9)
                {
                    fraction = (fraction * 10) + (text[i] - '0');
                }

                digits++;
                i++;
            }

            if (digits == 0)
            {
                return false;
            }

            for (; digits < 9; digits++)
            {
                fraction *= 10;
            }
        }

        long offsetSeconds;
        if (i < text.Length && (text[i] | 0x20) == 'z')
        {
            offsetSeconds = 0;
            i++;
        }
        else if (i + 6 == text.Length && (text[i] == '+' || text[i] == '-') && text[i + 3] == ':' && Digits(text, i + 1, 2, out var oh) && Digits(text, i + 4, 2, out var om))
        {
            offsetSeconds = ((oh * 60) + om) * 60 * (text[i] == '-' ? -1 : 1);
            i += 6;
        }
        else
        {
            return false;
        }

        if (i != text.Length || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 60)
        {
            return false;
        }

        // A leap second (60) is read as the last nanosecond-precise moment of the minute's end, as Go does: the next second.
        var date = new DateTime(year, month, day, hour, minute, 0, DateTimeKind.Utc);
        var seconds = ((date.Ticks - DateTime.UnixEpoch.Ticks) / TimeSpan.TicksPerSecond) + second - offsetSeconds;
        nanos = (seconds * 1_000_000_000L) + fraction;
        return true;
    }

    /// <summary>Reads a time given as text (see <see cref="TryParseNanos(ReadOnlySpan{byte}, out long)"/>).</summary>
    public static bool TryParseNanos(string text, out long nanos)
    {
        Span<byte> bytes = stackalloc byte[64];
        if (text.Length > bytes.Length)
        {
            nanos = 0;
            return false;
        }

        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] > 127)
            {
                nanos = 0;
                return false;
            }

            bytes[i] = (byte)text[i];
        }

        return TryParseNanos(bytes[..text.Length], out nanos);
    }

    /// <summary>Writes nanoseconds since the epoch as protojson writes a Timestamp: UTC, with 0, 3, 6 or 9 fractional digits.</summary>
    public static string Format(long nanos)
    {
        var seconds = Math.DivRem(nanos, 1_000_000_000L, out var fraction);
        if (fraction < 0)
        {
            fraction += 1_000_000_000L;
            seconds--;
        }

        var time = DateTime.UnixEpoch.AddSeconds(seconds);
        var text = time.ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss", System.Globalization.CultureInfo.InvariantCulture);
        if (fraction == 0)
        {
            return text + "Z";
        }

        var digits = fraction % 1_000_000 == 0 ? $"{fraction / 1_000_000:D3}" : fraction % 1_000 == 0 ? $"{fraction / 1_000:D6}" : $"{fraction:D9}";
        return $"{text}.{digits}Z";
    }

    private static bool Digits(ReadOnlySpan<byte> text, int start, int count, out int value)
    {
        value = 0;
        for (var i = start; i < start + count; i++)
        {
            var digit = (uint)(text[i] - '0');
            if (digit > 9)
            {
                return false;
            }

            value = (value * 10) + (int)digit;
        }

        return true;
    }
}
