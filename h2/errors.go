package h2

// ErrCode is an HTTP/2 error code, carried by RST_STREAM and GOAWAY (RFC 9113
// §7).
type ErrCode uint32

// Error codes (RFC 9113 §7).
const (
	CodeNo                 ErrCode = 0x0
	CodeProtocol           ErrCode = 0x1
	CodeInternal           ErrCode = 0x2
	CodeFlowControl        ErrCode = 0x3
	CodeSettingsTimeout    ErrCode = 0x4
	CodeStreamClosed       ErrCode = 0x5
	CodeFrameSize          ErrCode = 0x6
	CodeRefusedStream      ErrCode = 0x7
	CodeCancel             ErrCode = 0x8
	CodeCompression        ErrCode = 0x9
	CodeConnect            ErrCode = 0xa
	CodeEnhanceYourCalm    ErrCode = 0xb
	CodeInadequateSecurity ErrCode = 0xc
	CodeHTTP11Required     ErrCode = 0xd
)

var codeNames = [...]string{
	"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
	"STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR",
	"CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
}

// String is the code's name in RFC 9113 ("PROTOCOL_ERROR"); an unknown code
// (which a peer may send, §7) is "UNKNOWN".
func (c ErrCode) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "UNKNOWN"
}

// Error is why a connection ended: a connection error the package detected
// (the GOAWAY it wrote carries Code()), or a limit a hostile peer ran into.
// A one-byte value: it converts to error without allocating.
type Error uint8

// Connection errors. Each maps to the GOAWAY code in errCode.
const (
	ErrPreface         Error = iota + 1 // the client connection preface is wrong
	ErrFirstSettings                    // the first frame after the preface is not SETTINGS
	ErrFrameSize                        // a frame larger than SETTINGS_MAX_FRAME_SIZE, or a fixed-size frame of the wrong size
	ErrStreamZero                       // a frame that needs a stream on stream 0, or the converse
	ErrStreamID                         // an even or decreasing new stream ID
	ErrIdleStream                       // a frame other than HEADERS or PRIORITY on an idle stream
	ErrClosedStream                     // HEADERS or CONTINUATION on a stream closed with END_STREAM
	ErrHeaderBlock                      // a frame other than CONTINUATION inside a header block, or a stray CONTINUATION
	ErrPadding                          // a pad length longer than the payload
	ErrSettings                         // a SETTINGS value out of range
	ErrWindowOverflow                   // a flow-control window above 2^31-1 (connection)
	ErrWindowZero                       // WINDOW_UPDATE with an increment of 0 on the connection
	ErrFlowControl                      // the peer sent more than the connection window allows
	ErrCompression                      // a header block HPACK cannot decode
	ErrPushPromise                      // a client sent PUSH_PROMISE
	ErrHeaderBlockSize                  // a header block past Limits.MaxHeaderBlock (CONTINUATION flood)
	ErrRapidReset                       // streams reset by the peer faster than they complete (CVE-2023-44487)
	ErrFlood                            // too many frames that cost work and carry none (PING, SETTINGS, empty DATA...)
	ErrPeerGoAway                       // GoAway was called with an error code
	// Errors of the Write methods: the engine asked for something the
	// stream's state does not allow; nothing was written.
	ErrStreamGone // the stream is not active (it ended, or an EventReset said it was reset)
	ErrHeadState  // a head after the final head, DATA or trailers before it
	errMax
)

var errText = [errMax]string{
	"",
	"h2: bad connection preface",
	"h2: first frame is not SETTINGS",
	"h2: frame size error",
	"h2: frame on the wrong stream (0 or not 0)",
	"h2: bad stream identifier",
	"h2: frame on an idle stream",
	"h2: frame on a closed stream",
	"h2: frame inside a header block",
	"h2: bad padding",
	"h2: SETTINGS value out of range",
	"h2: flow-control window overflow",
	"h2: WINDOW_UPDATE of 0",
	"h2: flow-control window exceeded",
	"h2: HPACK decoding error",
	"h2: PUSH_PROMISE from a client",
	"h2: header block too large",
	"h2: too many streams reset by the peer",
	"h2: frame flood",
	"h2: connection closed with GOAWAY",
	"h2: stream not active",
	"h2: response head out of order",
}

var errCode = [errMax]ErrCode{
	0,
	CodeProtocol,
	CodeProtocol,
	CodeFrameSize,
	CodeProtocol,
	CodeProtocol,
	CodeProtocol,
	CodeStreamClosed,
	CodeProtocol,
	CodeProtocol,
	CodeProtocol, // ErrSettings: FLOW_CONTROL_ERROR for INITIAL_WINDOW_SIZE, set where detected
	CodeFlowControl,
	CodeProtocol,
	CodeFlowControl,
	CodeCompression,
	CodeProtocol,
	CodeEnhanceYourCalm,
	CodeEnhanceYourCalm,
	CodeEnhanceYourCalm,
	CodeInternal,
	CodeInternal,
	CodeInternal,
}

func (e Error) Error() string {
	if e < errMax {
		return errText[e]
	}
	return "h2: unknown error"
}

// Code is the GOAWAY error code the connection sent for e.
func (e Error) Code() ErrCode {
	if e < errMax {
		return errCode[e]
	}
	return CodeInternal
}
