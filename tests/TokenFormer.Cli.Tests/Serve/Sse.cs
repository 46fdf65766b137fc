using System.Text.Json;

namespace TokenFormer.Cli.Tests.Serve;

/// <summary>Reads a text/event-stream body strictly: every event is one "data: …" line followed by a blank line.</summary>
internal static class Sse
{
    /// <summary>The data payloads of <paramref name="body"/>, in order; fails on anything not of the form "data: X\n\n".</summary>
    public static List<string> Events(string body)
    {
        Assert.EndsWith("\n\n", body);
        var events = new List<string>();
        foreach (string block in body[..^2].Split("\n\n"))
        {
            Assert.StartsWith("data: ", block);
            Assert.DoesNotContain('\n', block);
            events.Add(block["data: ".Length..]);
        }
        return events;
    }

    /// <summary>Checks the stream's shape (chunks, then [DONE]) and returns the text per choice index and the finish reasons.</summary>
    public static (Dictionary<int, string> Text, Dictionary<int, string> Finish) Collect(string body, string model)
    {
        List<string> events = Events(body);
        Assert.Equal("[DONE]", events[^1]);
        var text = new Dictionary<int, string>();
        var finish = new Dictionary<int, string>();
        foreach (string e in events.Take(events.Count - 1))
        {
            using JsonDocument doc = JsonDocument.Parse(e);
            JsonElement root = doc.RootElement;
            Assert.False(root.TryGetProperty("error", out _), e);
            Assert.Equal("text_completion", root.GetProperty("object").GetString());
            Assert.Equal(model, root.GetProperty("model").GetString());
            Assert.StartsWith("cmpl-", root.GetProperty("id").GetString());
            JsonElement choice = root.GetProperty("choices").EnumerateArray().Single();
            int index = choice.GetProperty("index").GetInt32();
            Assert.Equal(JsonValueKind.Null, choice.GetProperty("logprobs").ValueKind);
            text[index] = text.GetValueOrDefault(index, "") + choice.GetProperty("text").GetString();
            if (choice.GetProperty("finish_reason").ValueKind == JsonValueKind.String)
            {
                Assert.False(finish.ContainsKey(index), "two finish reasons for one choice");
                finish[index] = choice.GetProperty("finish_reason").GetString()!;
            }
            else Assert.False(finish.ContainsKey(index), "text after the finish reason");
        }
        return (text, finish);
    }
}
