using System.Text.RegularExpressions;

namespace Palisade.Manifests;

/// <summary>Kubernetes' rules for names, label keys and values, and port names, with messages that say what is allowed.</summary>
internal static partial class KubernetesNames
{
    [GeneratedRegex("^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$", RegexOptions.CultureInvariant)]
    private static partial Regex QualifiedNamePart();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$", RegexOptions.CultureInvariant)]
    private static partial Regex DnsSubdomain();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", RegexOptions.CultureInvariant)]
    private static partial Regex DnsLabel();

    [GeneratedRegex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", RegexOptions.CultureInvariant)]
    private static partial Regex ServiceName();

    /// <summary>Checks a label key (<c>[prefix/]name</c>); returns what is wrong, or null.</summary>
    public static string? CheckLabelKey(string key)
    {
        var slash = key.LastIndexOf('/');
        var name = slash >= 0 ? key[(slash + 1)..] : key;
        if (slash >= 0)
        {
            var prefix = key[..slash];
            if (prefix.Length == 0 || prefix.Length > 253 || !DnsSubdomain().IsMatch(prefix))
            {
                return $"label key '{key}' has an invalid prefix: it must be a DNS subdomain (lower-case letters, digits, '-' and '.')";
            }
        }

        if (name.Length == 0 || name.Length > 63 || !QualifiedNamePart().IsMatch(name))
        {
            return $"label key '{key}' is invalid: the name part must be 1-63 characters of letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
        }

        return null;
    }

    /// <summary>Checks a label value; returns what is wrong, or null.</summary>
    public static string? CheckLabelValue(string value)
    {
        if (value.Length == 0)
        {
            return null;
        }

        if (value.Length > 63 || !QualifiedNamePart().IsMatch(value))
        {
            return $"label value '{value}' is invalid: it must be empty or 1-63 characters of letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
        }

        return null;
    }

    /// <summary>Checks an object name (a DNS subdomain); returns what is wrong, or null.</summary>
    public static string? CheckObjectName(string name)
    {
        if (name.Length == 0 || name.Length > 253 || !DnsSubdomain().IsMatch(name))
        {
            return $"name '{name}' is invalid: it must be lower-case letters, digits, '-' and '.', starting and ending with a letter or digit";
        }

        return null;
    }

    /// <summary>Checks a namespace name (a DNS label); returns what is wrong, or null.</summary>
    public static string? CheckNamespaceName(string name)
    {
        if (name.Length == 0 || name.Length > 63 || !DnsLabel().IsMatch(name))
        {
            return $"namespace name '{name}' is invalid: it must be 1-63 lower-case letters, digits and '-', starting and ending with a letter or digit";
        }

        return null;
    }

    /// <summary>Checks a port name (IANA service name); returns what is wrong, or null.</summary>
    public static string? CheckPortName(string name)
    {
        if (name.Length == 0 || name.Length > 15 || !ServiceName().IsMatch(name) || name.Contains("--", StringComparison.Ordinal)
            || !name.Any(char.IsAsciiLetter))
        {
            return $"port name '{name}' is invalid: it must be 1-15 lower-case letters, digits and single '-', with at least one letter";
        }

        return null;
    }
}
