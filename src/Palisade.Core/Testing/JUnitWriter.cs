using System.Globalization;
using System.Xml;

namespace Palisade.Testing;

/// <summary>
/// Writes case results as JUnit XML, which CI systems show as test reports: one test suite per case
/// file, one test case per check that failed, and one per case that passed as a whole.
/// </summary>
public static class JUnitWriter
{
    /// <summary>Writes <paramref name="results"/> to <paramref name="output"/>.</summary>
    public static void Write(IReadOnlyList<CaseResult> results, TextWriter output)
    {
        var settings = new XmlWriterSettings { Indent = true, NewLineChars = "\n" };
        using var xml = XmlWriter.Create(output, settings);
        xml.WriteStartDocument();
        xml.WriteStartElement("testsuites");
        xml.WriteAttributeString("name", "palisade test");
        xml.WriteAttributeString("tests", Count(results.Sum(static r => r.Passed + r.Failed)));
        xml.WriteAttributeString("failures", Count(results.Sum(static r => r.Failed)));
        xml.WriteAttributeString("errors", Count(results.Sum(static r => r.Errors.Count)));
        foreach (var result in results)
        {
            xml.WriteStartElement("testsuite");
            xml.WriteAttributeString("name", result.Case.Name);
            xml.WriteAttributeString("file", result.Case.Source);
            xml.WriteAttributeString("tests", Count(result.Passed + result.Failed));
            xml.WriteAttributeString("failures", Count(result.Failed));
            xml.WriteAttributeString("errors", Count(result.Errors.Count));

            xml.WriteStartElement("testcase");
            xml.WriteAttributeString("classname", result.Case.Name);
            xml.WriteAttributeString("name", $"{result.Passed} checks passed");
            xml.WriteEndElement();

            foreach (var failure in result.Failures)
            {
                xml.WriteStartElement("testcase");
                xml.WriteAttributeString("classname", result.Case.Name);
                xml.WriteAttributeString("name", $"{failure.Step}: {failure.Connection}");
                xml.WriteStartElement("failure");
                xml.WriteAttributeString("message", $"expected {(failure.ExpectedAllowed ? "allow" : "deny")}, got {(failure.ExpectedAllowed ? "deny" : "allow")}");
                xml.WriteString($"{failure.Location}\n{failure.Explanation.Describe()}");
                xml.WriteEndElement();
                xml.WriteEndElement();
            }

            foreach (var problem in result.Errors)
            {
                xml.WriteStartElement("testcase");
                xml.WriteAttributeString("classname", result.Case.Name);
                xml.WriteAttributeString("name", problem.Code);
                xml.WriteStartElement("error");
                xml.WriteAttributeString("message", problem.Message);
                xml.WriteString(problem.ToString());
                xml.WriteEndElement();
                xml.WriteEndElement();
            }

            xml.WriteEndElement();
        }

        xml.WriteEndElement();
        xml.WriteEndDocument();
    }

    private static string Count(int value) => value.ToString(CultureInfo.InvariantCulture);
}
