package probe

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
)

// mongoHello is an OP_MSG (opcode 2013, MongoDB 3.6+) carrying the command
// {isMaster: 1, $db: "admin"}. isMaster (the older name of "hello", still
// served by every version) is answered before authentication and reads
// nothing but server metadata.
// https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/
// https://www.mongodb.com/docs/manual/reference/command/hello/
func mongoHello(requestID uint32) []byte {
	doc := bsonDoc(
		bsonInt32("isMaster", 1),
		bsonString("$db", "admin"),
	)
	msg := make([]byte, 16+4+1, 16+4+1+len(doc))
	binary.LittleEndian.PutUint32(msg[4:], requestID)
	binary.LittleEndian.PutUint32(msg[12:], 2013)
	// flagBits 0, then section kind 0 (body).
	msg = append(msg, doc...)
	binary.LittleEndian.PutUint32(msg[0:], uint32(len(msg))) //nolint:gosec // a hello of a few dozen bytes
	return msg
}

func bsonDoc(elems ...[]byte) []byte {
	n := 4 + 1
	for _, e := range elems {
		n += len(e)
	}
	out := binary.LittleEndian.AppendUint32(nil, uint32(n))
	for _, e := range elems {
		out = append(out, e...)
	}
	return append(out, 0)
}

func bsonInt32(name string, v int32) []byte {
	out := append([]byte{0x10}, name...)
	out = append(out, 0)
	return binary.LittleEndian.AppendUint32(out, uint32(v)) //nolint:gosec // BSON int32 is two's complement: the same bits
}

func bsonString(name, v string) []byte {
	out := append([]byte{0x02}, name...)
	out = append(out, 0)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(v)+1)) //nolint:gosec // names and values built here are short
	out = append(out, v...)
	return append(out, 0)
}

// probeMongo sends isMaster and reads the server's reply document.
func probeMongo(ctx context.Context, s *session) (*fingerprint, error) {
	const reqID = 0x50435548 // "PCUH"
	if err := s.write(ctx, mongoHello(reqID)); err != nil {
		return nil, err
	}
	b, err := s.readSome(ctx, s.cfg().Timeout, true)
	if len(b) < 21 {
		return nil, err
	}
	n := int(binary.LittleEndian.Uint32(b[0:4]))
	respTo := binary.LittleEndian.Uint32(b[8:12])
	op := binary.LittleEndian.Uint32(b[12:16])
	if respTo != reqID || n < 21 || (op != 2013 && op != 1) {
		return nil, nil
	}
	fp := &fingerprint{Service: "mongodb", Product: "MongoDB"}
	if op != 2013 || b[20] != 0 {
		return fp, nil
	}
	fields, err := bsonTop(b[21:min(n, len(b))])
	if err != nil {
		fp.set("mongodb.parse", err.Error())
		return fp, nil
	}
	if v, ok := fields["maxWireVersion"].(int64); ok {
		fp.set("mongodb.maxWireVersion", fmt.Sprint(v))
		if ver, ok := mongoWireVersions[v]; ok {
			fp.Product = "MongoDB " + ver
		}
	}
	for _, k := range []string{"ismaster", "isWritablePrimary", "msg", "setName", "errmsg", "codeName"} {
		if v, ok := fields[k]; ok {
			fp.set("mongodb."+k, clean(fmt.Sprint(v), 120))
		}
	}
	return fp, nil
}

// mongoWireVersions maps maxWireVersion to the release that introduced it
// (MongoDB driver specifications, "wire version" table).
var mongoWireVersions = map[int64]string{
	6: "3.6", 7: "4.0", 8: "4.2", 9: "4.4", 13: "5.0", 14: "5.1", 17: "6.0", 21: "7.0", 25: "8.0",
}

// bsonTop decodes the top-level scalar fields of a BSON document (strings,
// numbers, booleans); nested documents are skipped.
func bsonTop(b []byte) (map[string]any, error) {
	if len(b) < 5 {
		return nil, fmt.Errorf("bson document of %d bytes", len(b))
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n > len(b) || n < 5 {
		return nil, fmt.Errorf("bson length %d beyond the %d bytes read", n, len(b))
	}
	out := map[string]any{}
	i := 4
	for i < n-1 {
		typ := b[i]
		i++
		end := i
		for end < n && b[end] != 0 {
			end++
		}
		if end >= n {
			return out, fmt.Errorf("bson element name runs off the document")
		}
		name := string(b[i:end])
		i = end + 1
		size := 0
		switch typ {
		case 0x01, 0x09, 0x11, 0x12: // double, datetime, timestamp, int64
			size = 8
		case 0x10:
			size = 4
		case 0x08:
			size = 1
		case 0x07:
			size = 12
		case 0x0a, 0x06, 0xff, 0x7f:
			size = 0
		case 0x13:
			size = 16
		case 0x02, 0x0d, 0x0e: // string, JS code, symbol
			if i+4 > n {
				return out, fmt.Errorf("bson string %q truncated", name)
			}
			size = 4 + int(binary.LittleEndian.Uint32(b[i:]))
		case 0x03, 0x04: // document, array
			if i+4 > n {
				return out, fmt.Errorf("bson document %q truncated", name)
			}
			size = int(binary.LittleEndian.Uint32(b[i:]))
		case 0x05:
			if i+4 > n {
				return out, fmt.Errorf("bson binary %q truncated", name)
			}
			size = 5 + int(binary.LittleEndian.Uint32(b[i:]))
		default:
			return out, fmt.Errorf("bson type 0x%02x of %q not understood", typ, name)
		}
		if size < 0 || i+size > n {
			return out, fmt.Errorf("bson field %q runs off the document", name)
		}
		v := b[i : i+size]
		switch typ {
		case 0x01:
			f := math.Float64frombits(binary.LittleEndian.Uint64(v))
			if f == math.Trunc(f) {
				out[name] = int64(f)
			} else {
				out[name] = f
			}
		case 0x10:
			out[name] = int64(int32(binary.LittleEndian.Uint32(v))) //nolint:gosec // BSON int32 is two's complement
		case 0x12:
			out[name] = int64(binary.LittleEndian.Uint64(v)) //nolint:gosec // BSON int64 is two's complement
		case 0x08:
			out[name] = v[0] != 0
		case 0x02:
			if len(v) > 4 {
				out[name] = string(v[4 : len(v)-1])
			}
		}
		i += size
	}
	return out, nil
}
