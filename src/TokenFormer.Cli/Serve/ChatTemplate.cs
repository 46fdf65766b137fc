using System.Text;
using System.Text.Json;
using TokenFormer.Core.IO;

namespace TokenFormer.Cli.Serve;

/// <summary>One message of a chat request: its role (system, user or assistant) and its text.</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>
/// Turns a chat's messages into the prompt the model continues. The server's format (docs/serving.md, "Chat"):
/// each message on its own line as <c>System: …</c>, <c>User: …</c> or <c>Assistant: …</c>, then <c>Assistant:</c>;
/// generation also stops before <c>\nUser:</c> so the model does not write the user's next turn.
/// A model directory's Jinja <c>chat_template</c> (tokenizer_config.json) is not executed: this project has no Jinja
/// interpreter, so <see cref="ForModel"/> reports it and the default format is used.
/// </summary>
public sealed class ChatTemplate
{
    /// <summary>The plain default format described above.</summary>
    public static readonly ChatTemplate Default = new();

    private ChatTemplate() { }

    /// <summary>Stop strings the format adds to every chat request (the start of a user turn).</summary>
    public IReadOnlyList<string> Stop { get; } = ["\nUser:"];

    /// <summary>The prompt for <paramref name="messages"/>: one line per message, then "Assistant:".</summary>
    public string Render(IReadOnlyList<ChatMessage> messages)
    {
        var sb = new StringBuilder();
        foreach (ChatMessage m in messages)
            sb.Append(Label(m.Role)).Append(": ").Append(m.Content).Append('\n');
        return sb.Append("Assistant:").ToString();
    }

    private static string Label(string role) => role switch
    {
        "system" => "System",
        "user" => "User",
        "assistant" => "Assistant",
        _ => throw new ArgumentException($"role '{role}' has no label", nameof(role)),
    };

    /// <summary>
    /// The template for the model in <paramref name="modelDirectory"/>: always <see cref="Default"/>; <paramref name="note"/>
    /// says so when the directory's tokenizer_config.json has a <c>chat_template</c> that is therefore not applied
    /// (null otherwise).
    /// </summary>
    public static ChatTemplate ForModel(string modelDirectory, out string? note)
    {
        note = null;
        string path = Path.Combine(modelDirectory, "tokenizer_config.json");
        if (!File.Exists(path)) return Default;
        byte[] bytes = File.ReadAllBytes(path);
        try
        {
            using JsonDocument doc = JsonDocument.Parse(bytes);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("chat_template", out JsonElement t)
                && t.ValueKind != JsonValueKind.Null)
                note = $"{path} has a chat_template (a Jinja template), which this server does not execute; " +
                    "chat requests use the plain default format (System:/User:/Assistant: lines, docs/serving.md)";
        }
        catch (JsonException e)
        {
            note = $"{path} is not valid JSON ({e.Message}); chat requests use the plain default format";
        }
        catch (InvalidOperationException) when (JsonStrings.FirstUndecodable(bytes) is { } bad)
        {
            // met by the property lookup (Core/IO/JsonStrings.cs)
            note = $"{path}: {JsonStrings.Describe(bad)}; chat requests use the plain default format";
        }
        return Default;
    }
}
