package graphbinary

import "fmt"

// typeCode is the first byte of a fully-qualified value: {type_code}{value_flag}{value}.
// The numbers are GraphBinary v1's (TinkerPop IO Reference, "Data Type Codes").
type typeCode byte

const (
	codeInt               typeCode = 0x01
	codeLong              typeCode = 0x02
	codeString            typeCode = 0x03
	codeDate              typeCode = 0x04
	codeTimestamp         typeCode = 0x05
	codeClass             typeCode = 0x06
	codeDouble            typeCode = 0x07
	codeFloat             typeCode = 0x08
	codeList              typeCode = 0x09
	codeMap               typeCode = 0x0a
	codeSet               typeCode = 0x0b
	codeUUID              typeCode = 0x0c
	codeEdge              typeCode = 0x0d
	codePath              typeCode = 0x0e
	codeProperty          typeCode = 0x0f
	codeVertex            typeCode = 0x11
	codeVertexProperty    typeCode = 0x12
	codeBarrier           typeCode = 0x13
	codeBinding           typeCode = 0x14
	codeBytecode          typeCode = 0x15
	codeCardinality       typeCode = 0x16
	codeColumn            typeCode = 0x17
	codeDirection         typeCode = 0x18
	codeOperator          typeCode = 0x19
	codeOrder             typeCode = 0x1a
	codePick              typeCode = 0x1b
	codePop               typeCode = 0x1c
	codeLambda            typeCode = 0x1d
	codeP                 typeCode = 0x1e
	codeScope             typeCode = 0x1f
	codeT                 typeCode = 0x20
	codeTraverser         typeCode = 0x21
	codeBigDecimal        typeCode = 0x22
	codeBigInteger        typeCode = 0x23
	codeByte              typeCode = 0x24
	codeByteBuffer        typeCode = 0x25
	codeShort             typeCode = 0x26
	codeBoolean           typeCode = 0x27
	codeTextP             typeCode = 0x28
	codeTraversalStrategy typeCode = 0x29
	codeMerge             typeCode = 0x2e
	codeDT                typeCode = 0x2f
	codeDuration          typeCode = 0x81
	codeNull              typeCode = 0xfe // "unspecified null object"
)

// Value flags. GraphBinary v1 defines only the null bit; any other bit set is
// refused rather than guessed at.
const (
	flagNone byte = 0x00
	flagNull byte = 0x01
)

// enumCodes maps each enum type code to its EnumType and back. Every Gremlin
// enum is written as its own type code followed by a fully-qualified String.
var enumCodes = map[typeCode]EnumType{
	codeT:           EnumT,
	codeDirection:   EnumDirection,
	codeMerge:       EnumMerge,
	codeCardinality: EnumCardinality,
	codeOrder:       EnumOrder,
	codeScope:       EnumScope,
	codeColumn:      EnumColumn,
	codePop:         EnumPop,
	codePick:        EnumPick,
	codeBarrier:     EnumBarrier,
	codeOperator:    EnumOperator,
	codeDT:          EnumDT,
}

var enumTypeCodes = func() map[EnumType]typeCode {
	m := make(map[EnumType]typeCode, len(enumCodes))
	for c, t := range enumCodes {
		m[t] = c
	}
	return m
}()

// names for error messages; a code missing here prints as hex only.
var codeNames = map[typeCode]string{
	codeInt: "Int", codeLong: "Long", codeString: "String", codeDate: "Date",
	codeTimestamp: "Timestamp", codeClass: "Class", codeDouble: "Double",
	codeFloat: "Float", codeList: "List", codeMap: "Map", codeSet: "Set",
	codeUUID: "UUID", codeEdge: "Edge", codePath: "Path", codeProperty: "Property",
	codeVertex: "Vertex", codeVertexProperty: "VertexProperty", codeBarrier: "Barrier",
	codeBinding: "Binding", codeBytecode: "Bytecode", codeCardinality: "Cardinality",
	codeColumn: "Column", codeDirection: "Direction", codeOperator: "Operator",
	codeOrder: "Order", codePick: "Pick", codePop: "Pop", codeLambda: "Lambda",
	codeP: "P", codeScope: "Scope", codeT: "T", codeTraverser: "Traverser",
	codeBigDecimal: "BigDecimal", codeBigInteger: "BigInteger", codeByte: "Byte",
	codeByteBuffer: "ByteBuffer", codeShort: "Short", codeBoolean: "Boolean",
	codeTextP: "TextP", codeTraversalStrategy: "TraversalStrategy", codeMerge: "Merge",
	codeDT: "DT", codeDuration: "Duration", codeNull: "null",
	// Known to GraphBinary but not to this codec: named so the error says what
	// arrived.
	0x00: "Custom", 0x10: "TinkerGraph", 0x2a: "BulkSet", 0x2b: "Tree",
	0x2c: "Metrics", 0x2d: "TraversalMetrics", 0x80: "Char",
}

// notRead are the named codes the codec refuses: nothing gremlin-go sends,
// nor anything the stand-in returns.
var notRead = map[typeCode]bool{0x00: true, 0x10: true, 0x2a: true, 0x2b: true, 0x2c: true, 0x2d: true, 0x80: true}

// readable reports whether the codec decodes values of type c. It is checked
// before a null flag is honoured, so a null of an unknown type is an error too.
func readable(c typeCode) bool {
	_, named := codeNames[c]
	return named && !notRead[c]
}

func (c typeCode) String() string {
	if name, ok := codeNames[c]; ok {
		return fmt.Sprintf("0x%02x (%s)", byte(c), name)
	}
	return fmt.Sprintf("0x%02x", byte(c))
}
