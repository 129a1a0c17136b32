package faults

import (
	"bytes"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

// An afterRun rule's hit is answered here, in front of vCenter, as only
// here is the call over: the hook runs before the method, and govmomi's
// injector answers instead of it. A call an afterRun rule covers is served
// as usual with its answer held back; if the answer is a success and a
// covering rule has a hit waiting, the answer becomes the fault. Which of
// two concurrent calls of one method and object type takes the hit is open,
// as with the injector's rules; both ran. A hit whose call fails on its own
// (it did no work, its fault stands) waits for the next covered call that
// succeeds, as an injector hit waits for the next call.

// isSDK says whether p is the path of an SDK whose calls the hooks see.
func isSDK(p string) bool {
	if p == vim25.Path {
		return true
	}
	for _, sdk := range sdks {
		if sdk.path == p {
			return true
		}
	}
	return false
}

// afterRunHeld says whether any afterRun rule is held: without one, no
// answer needs holding back.
func (s *Server) afterRunHeld() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.rules {
		if r.heldByFront() {
			return true
		}
	}
	return false
}

// afterRunCovers says whether an afterRun rule could hit the call.
func (s *Server) afterRunCovers(method, object string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.rules {
		if r.heldByFront() && r.covers(method, object) {
			return true
		}
	}
	return false
}

// heldByFront says whether the front answers the rule's hits: it alone
// sees the call's answer.
func (r *rule) heldByFront() bool { return r.spec.AfterRun || r.spec.TaskDelay > 0 }

// frontHit is what a hit the front answers asks for: the fault to end the
// call or its task with (nil: its own outcome), and how long the task
// reports running after its work.
type frontHit struct {
	fault     types.BaseMethodFault
	msg       string
	taskDelay time.Duration
}

// takeAfterRun takes a waiting hit of the first rule the front answers that
// covers the call; ok is false if none waits.
func (s *Server) takeAfterRun(method, object string) (h frontHit, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.rules {
		if r.heldByFront() && r.after > 0 && r.covers(method, object) {
			r.after--
			h.taskDelay = time.Duration(r.spec.TaskDelay)
			if r.spec.AfterRun {
				h.msg = r.message()
				h.fault = vimFaults[r.spec.Fault](h.msg)
			}
			return h, true
		}
	}
	return h, false
}

// serveAfterRun serves a SOAP call an afterRun rule covers.
func (s *Server) serveAfterRun(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		w.WriteHeader(http.StatusBadRequest) // what the simulator answers a body it cannot read
		return
	}
	r = r.WithContext(r.Context()) // a copy, to hand on the body read
	r.Body = io.NopCloser(bytes.NewReader(body))
	method, object, ok := soapCall(body)
	if !ok || !s.afterRunCovers(method, object) {
		s.vcenter.ServeHTTP(w, r)
		return
	}
	held := &heldAnswer{header: http.Header{}, code: http.StatusOK}
	s.vcenter.ServeHTTP(held, r)
	// A call that failed on its own did not do its work: its fault stands.
	if held.code == http.StatusOK {
		if h, ok := s.takeAfterRun(method, object); ok {
			held.body, held.code = s.afterRunAnswer(held.body, h)
		}
	}
	held.send(w)
}

// afterRunAnswer is the answer to a call that did its work: for a method
// that returned a task, the same answer naming a twin of the task that ends
// in error (or, for a taskDelay rule, as the task did, later); for any
// other, the SOAP fault (or, without one, its own answer).
func (s *Server) afterRunAnswer(body []byte, h frontHit) ([]byte, int) {
	if ref, start, end, ok := taskAnswer(body); ok {
		var lf *types.LocalizedMethodFault
		if h.fault != nil {
			lf = &types.LocalizedMethodFault{Fault: h.fault, LocalizedMessage: h.msg}
		}
		if twin, ok := s.twinTask(ref, lf, h.taskDelay); ok {
			out := append([]byte{}, body[:start]...)
			out = append(out, twin.Value...)
			return append(out, body[end:]...), http.StatusOK
		}
	}
	if h.fault == nil {
		return body, http.StatusOK
	}
	out, err := faultAnswer(h.fault, h.msg)
	if err != nil {
		return body, http.StatusOK // cannot happen with vimFaults; the call's own answer then
	}
	return out, http.StatusInternalServerError
}

// twinTask starts the task the client gets instead of the one its call
// returned (ref): a task with the same description that runs while that
// one runs, and delay longer, and then ends in error with lf (vpxd losing
// a task's result after the work: the client sees running, then error,
// never a success first, while what the call's task made stays) or, with
// lf nil, as that one ended (a slow task). The client never learns ref.
func (s *Server) twinTask(ref string, lf *types.LocalizedMethodFault, delay time.Duration) (types.ManagedObjectReference, bool) {
	ctx := s.svc.Context.For(vim25.Path) // every task lives in vim25; a lock owner of our own
	work, ok := ctx.Map.Get(types.ManagedObjectReference{Type: "Task", Value: ref}).(*simulator.Task)
	if !ok {
		return types.ManagedObjectReference{}, false
	}
	var info types.TaskInfo
	ctx.WithLock(work, func() { info = work.Info })
	if info.Entity == nil { // the task manager files every task under its entity
		return types.ManagedObjectReference{}, false
	}
	start := time.Now()
	if info.StartTime != nil {
		start = *info.StartTime
	}
	twin := &simulator.Task{}
	// The description of the work, none of its outcome.
	twin.Info = types.TaskInfo{
		Name:          info.Name,
		DescriptionId: info.DescriptionId,
		Description:   info.Description,
		Entity:        info.Entity,
		EntityName:    info.EntityName,
		Locked:        info.Locked,
		Cancelable:    info.Cancelable,
		Reason:        info.Reason,
		QueueTime:     info.QueueTime,
		StartTime:     &start,
		State:         types.TaskInfoStateRunning,
		EventChainId:  info.EventChainId,
		ChangeTag:     info.ChangeTag,
		ParentTaskKey: info.ParentTaskKey,
		RootTaskKey:   info.RootTaskKey,
		ActivationId:  info.ActivationId,
	}
	ctx.Map.Put(twin) // gives it its moref, as Task.Run does
	ctx.Map.AtomicUpdate(ctx, twin, []types.PropertyChange{
		{Name: "info.key", Val: twin.Self.Value},
		{Name: "info.task", Val: twin.Self},
	})
	go s.endWhenDone(ctx, work, twin, lf, delay)
	return twin.Self, true
}

// endWhenDone ends twin delay after work has ended, unless twin ended
// meanwhile (a client cancelled it): in error with lf, or, without one, as
// work ended (its state, result and fault). vSphere Web Services API,
// TaskInfo.error: "If the task state is "error", then this property
// contains the fault code", a LocalizedMethodFault whose localizedMessage
// is what clients report (govmomi's task.Error, the CSI driver's checks of
// CNS task results). One update, as Task.Run ends a task, so no collector
// reports an error without its fault.
func (s *Server) endWhenDone(ctx *simulator.Context, work, twin *simulator.Task, lf *types.LocalizedMethodFault, delay time.Duration) {
	tick := time.NewTicker(10 * time.Millisecond) // as simulator.Task.Wait polls
	defer tick.Stop()
	for !ended(ctx, work) {
		select {
		case <-tick.C:
		case <-s.done:
			return
		}
	}
	if delay > 0 {
		s.sleep(delay)
	}
	var outcome types.TaskInfo
	ctx.WithLock(work, func() { outcome = work.Info })
	var fault any // as Task.Run sets it: a LocalizedMethodFault value, or nothing
	if outcome.Error != nil {
		fault = *outcome.Error
	}
	changes := []types.PropertyChange{
		{Name: "info.completeTime", Val: time.Now()},
		{Name: "info.state", Val: outcome.State},
		{Name: "info.result", Val: outcome.Result},
		{Name: "info.error", Val: fault},
	}
	if lf != nil {
		changes = []types.PropertyChange{
			{Name: "info.completeTime", Val: time.Now()},
			{Name: "info.state", Val: types.TaskInfoStateError},
			{Name: "info.error", Val: *lf},
		}
	}
	ctx.WithLock(twin, func() {
		if st := twin.Info.State; st == types.TaskInfoStateSuccess || st == types.TaskInfoStateError {
			return
		}
		ctx.Update(twin, changes)
	})
}

func ended(ctx *simulator.Context, t *simulator.Task) bool {
	var st types.TaskInfoState
	ctx.WithLock(t, func() { st = t.Info.State })
	return st == types.TaskInfoStateSuccess || st == types.TaskInfoStateError
}

// soapCall names the method of a SOAP request and the type of the object
// it is on (its _this), as simulator.UnmarshalBody reads them.
func soapCall(body []byte) (method, object string, ok bool) {
	d := xml.NewDecoder(bytes.NewReader(body))
	var path []string // Envelope, Body, the method, its parameters
	for {
		tok, err := d.Token()
		if err != nil {
			return "", "", false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			path = append(path, t.Name.Local)
			if len(path) == 3 && path[1] == "Body" {
				method = t.Name.Local
			}
			if len(path) == 4 && path[1] == "Body" && t.Name.Local == "_this" {
				return method, attr(t, "type"), true
			}
		case xml.EndElement:
			if len(path) == 3 && method != "" {
				return method, "", true // a method without _this
			}
			if len(path) > 0 {
				path = path[:len(path)-1]
			}
		}
	}
}

// taskAnswer finds the task a SOAP answer returns - the one returnval of
// the method's response, of type Task - and where its value lies.
func taskAnswer(body []byte) (ref string, start, end int64, ok bool) {
	d := xml.NewDecoder(bytes.NewReader(body))
	var path []string // Envelope, Body, the response, returnval
	found := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return ref, start, end, found
		}
		if err != nil {
			return "", 0, 0, false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			path = append(path, t.Name.Local)
			if len(path) != 4 || path[1] != "Body" || t.Name.Local != "returnval" {
				continue
			}
			if found || attr(t, "type") != "Task" {
				return "", 0, 0, false // several values, or not a task
			}
			start = d.InputOffset()
			tok, err := d.Token()
			text, isText := tok.(xml.CharData)
			if err != nil || !isText {
				return "", 0, 0, false
			}
			end = d.InputOffset()
			ref, found = strings.TrimSpace(string(text)), true
		case xml.EndElement:
			if len(path) > 0 {
				path = path[:len(path)-1]
			}
		}
	}
}

func attr(e xml.StartElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// heldAnswer keeps vCenter's answer until the front has looked at it.
type heldAnswer struct {
	header http.Header
	code   int
	wrote  bool
	body   []byte
}

func (h *heldAnswer) Header() http.Header { return h.header }

func (h *heldAnswer) WriteHeader(code int) {
	if !h.wrote {
		h.code, h.wrote = code, true
	}
}

func (h *heldAnswer) Write(b []byte) (int, error) {
	h.wrote = true
	h.body = append(h.body, b...)
	return len(b), nil
}

func (h *heldAnswer) send(w http.ResponseWriter) {
	for k, v := range h.header {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length") // the body may have changed
	w.WriteHeader(h.code)
	_, _ = w.Write(h.body)
}

// faultAnswer is the SOAP fault answer to a call, encoded as the simulator
// encodes its faults (simulator.go: soapEnvelope, soapFault, faultDetail),
// the message as faultstring as govmomi's injector sends it.
func faultAnswer(fault types.BaseMethodFault, msg string) ([]byte, error) {
	var out bytes.Buffer
	out.WriteString(xml.Header)
	e := xml.NewEncoder(&out)
	env := soapEnvelope{
		Enc: "http://schemas.xmlsoap.org/soap/encoding/",
		Env: "http://schemas.xmlsoap.org/soap/envelope/",
		XSD: "http://www.w3.org/2001/XMLSchema",
		XSI: "http://www.w3.org/2001/XMLSchema-instance",
	}
	env.Body.Fault = soapFault{Code: "ServerFaultCode", String: msg}
	env.Body.Fault.Detail.Fault = faultDetail{fault}
	err := e.Encode(&env)
	if err == nil {
		err = e.Flush()
	}
	return out.Bytes(), err
}

type soapEnvelope struct {
	XMLName xml.Name `xml:"soapenv:Envelope"`
	Enc     string   `xml:"xmlns:soapenc,attr"`
	Env     string   `xml:"xmlns:soapenv,attr"`
	XSD     string   `xml:"xmlns:xsd,attr"`
	XSI     string   `xml:"xmlns:xsi,attr"`
	Body    struct {
		Fault soapFault
	} `xml:"soapenv:Body"`
}

type soapFault struct {
	XMLName xml.Name `xml:"soapenv:Fault"`
	Code    string   `xml:"faultcode"`
	String  string   `xml:"faultstring"`
	Detail  struct {
		Fault faultDetail
	} `xml:"detail"`
}

// faultDetail is the fault as element ${Type}Fault of xsi:type ${Type}, as
// vCenter sends it.
type faultDetail struct{ fault types.BaseMethodFault }

func (d faultDetail) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	kind := reflect.TypeOf(d.fault).Elem().Name()
	start.Name.Local = kind + "Fault"
	start.Attr = append(start.Attr,
		xml.Attr{Name: xml.Name{Local: "xmlns"}, Value: "urn:" + vim25.Namespace},
		xml.Attr{Name: xml.Name{Local: "xsi:type"}, Value: kind})
	return e.EncodeElement(d.fault, start)
}
