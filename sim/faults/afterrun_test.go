package faults

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

const envelope = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">`

func TestSOAPCall(t *testing.T) {
	for _, tc := range []struct {
		name, body     string
		method, object string
		ok             bool
	}{
		{"vim25 with a header",
			envelope + `<soapenv:Header><operationID>op-1</operationID></soapenv:Header><soapenv:Body><CreateFolder xmlns="urn:vim25"><_this type="Folder">group-d1</_this><name>x</name></CreateFolder></soapenv:Body></soapenv:Envelope>`,
			"CreateFolder", "Folder", true},
		{"CNS",
			envelope + `<soapenv:Body><CnsCreateVolume xmlns="urn:vsan"><_this type="CnsVolumeManager">cns-volume-manager</_this><createSpecs><name>v</name></createSpecs></CnsCreateVolume></soapenv:Body></soapenv:Envelope>`,
			"CnsCreateVolume", "CnsVolumeManager", true},
		{"_this after other parameters",
			envelope + `<soapenv:Body><M xmlns="urn:vim25"><a><_this type="Nested">n</_this></a><_this type="Folder">f</_this></M></soapenv:Body></soapenv:Envelope>`,
			"M", "Folder", true},
		{"no _this", envelope + `<soapenv:Body><M xmlns="urn:vim25"><a>1</a></M></soapenv:Body></soapenv:Envelope>`, "M", "", true},
		{"not XML", `method=CreateFolder`, "", "", false},
		{"no body", envelope + `</soapenv:Envelope>`, "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, o, ok := soapCall([]byte(tc.body))
			if m != tc.method || o != tc.object || ok != tc.ok {
				t.Errorf("soapCall = %q %q %v, want %q %q %v", m, o, ok, tc.method, tc.object, tc.ok)
			}
		})
	}
}

func TestTaskAnswer(t *testing.T) {
	answer := func(res string) string {
		return envelope + `<soapenv:Body>` + res + `</soapenv:Body></soapenv:Envelope>`
	}
	for _, tc := range []struct {
		name, body string
		ref        string
		ok         bool
	}{
		{"CNS task", answer(`<CnsCreateVolumeResponse xmlns="urn:vsan"><returnval type="Task">task-7</returnval></CnsCreateVolumeResponse>`), "task-7", true},
		{"vim25 task", answer(`<PowerOffVM_TaskResponse xmlns="urn:vim25"><returnval type="Task">task-12</returnval></PowerOffVM_TaskResponse>`), "task-12", true},
		{"a folder", answer(`<CreateFolderResponse xmlns="urn:vim25"><returnval type="Folder">group-v9</returnval></CreateFolderResponse>`), "", false},
		{"several tasks", answer(`<R xmlns="urn:vim25"><returnval type="Task">task-1</returnval><returnval type="Task">task-2</returnval></R>`), "", false},
		{"a nested task", answer(`<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><objects><obj type="Task">task-3</obj></objects></returnval></RetrievePropertiesExResponse>`), "", false},
		{"no value", answer(`<R xmlns="urn:vim25"></R>`), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			ref, start, end, ok := taskAnswer(body)
			if ref != tc.ref || ok != tc.ok {
				t.Fatalf("taskAnswer = %q %v, want %q %v", ref, ok, tc.ref, tc.ok)
			}
			if ok && string(body[start:end]) != tc.ref {
				t.Errorf("the value lies at %d:%d, %q", start, end, body[start:end])
			}
		})
	}
}

// The fault answer decodes, as govmomi's SOAP client decodes it, to the
// fault type with the message as faultstring.
func TestFaultAnswer(t *testing.T) {
	for _, name := range faultNames {
		t.Run(name, func(t *testing.T) {
			const msg = "vsconform <test> & fault"
			b, err := faultAnswer(vimFaults[name](msg), msg)
			if err != nil {
				t.Fatal(err)
			}
			var env struct {
				Body struct {
					Fault *soap.Fault `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault"`
				} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
			}
			dec := xml.NewDecoder(bytes.NewReader(b))
			dec.TypeFunc = types.TypeFunc()
			if err := dec.Decode(&env); err != nil {
				t.Fatalf("%v: %s", err, b)
			}
			f := env.Body.Fault
			if f == nil || f.Code != "ServerFaultCode" || f.String != msg || f.Detail.Fault == nil {
				t.Fatalf("decoded %+v from %s", f, b)
			}
			if got := reflect.Indirect(reflect.ValueOf(f.Detail.Fault)).Type().Name(); got != name {
				t.Errorf("detail %s, want %s: %s", got, name, b)
			}
		})
	}
}
