package wechattest

import (
	"context"
	"fmt"
	"time"
)

// TicketTTL is how long a verify ticket is accepted after its CreateTime.
const TicketTTL = 12 * time.Hour

// Ticket returns the newest verify ticket the server issued, issuing one
// if it has none.
func (s *Server) Ticket() string {
	s.mu.Lock()
	t := s.ticket
	s.mu.Unlock()
	if t == "" {
		return s.NewTicket()
	}
	return t
}

// NewTicket issues a new verify ticket created now, as WeChat does every
// ten minutes. Earlier tickets stay valid until TicketTTL after their
// creation.
func (s *Server) NewTicket() string { return s.NewTicketAt(time.Now()) }

// NewTicketAt issues a verify ticket with the given CreateTime; one
// created more than TicketTTL ago is refused with 61005.
func (s *Server) NewTicketAt(created time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	t := fmt.Sprintf("ticket@@@wechattest-%06d-%x", s.seq, created.UnixNano())
	s.tickets[t] = created
	if cur, ok := s.tickets[s.ticket]; !ok || !created.Before(cur) {
		s.ticket = t
	}
	return t
}

// TicketCreated returns the CreateTime of a ticket the server issued.
func (s *Server) TicketCreated(ticket string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[ticket]
	return t, ok
}

// StrictTickets, when on, makes api_component_token refuse the static
// VerifyTicket (61006), so that only tickets the server issued mint a
// component token. It is off by default.
func (s *Server) StrictTickets(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.strict = on
}

// LastMintTicket returns the verify ticket of the last successful
// component token mint.
func (s *Server) LastMintTicket() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastTkt
}

// checkTicket returns 0 when ticket may mint a component token, or the
// errcode WeChat would answer, and records it as the last one used.
func (s *Server) checkTicket(ticket string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	created, issued := s.tickets[ticket]
	switch {
	case ticket == VerifyTicket && !s.strict:
	case !issued:
		return 61006
	case time.Since(created) > TicketTTL:
		return 61005
	}
	s.lastTkt = ticket
	return 0
}

// PushTicketsTo makes every successful api_start_push_ticket push a new
// verify ticket through p, in the background, as WeChat starts pushing
// after that call; nil stops it. PushResults lists what came back.
func (s *Server) PushTicketsTo(p *Pusher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.push = p
}

// PushResults returns the outcomes of the pushes api_start_push_ticket
// started, in order; Close waits for them all.
func (s *Server) PushResults() []PushResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]PushResult(nil), s.pushed...)
}

func (s *Server) startPushing() {
	s.mu.Lock()
	p := s.push
	s.mu.Unlock()
	if p == nil {
		return
	}
	s.pushes.Add(1)
	go func() {
		defer s.pushes.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, res, err := p.Ticket(ctx)
		if err != nil {
			res.Err = err.Error()
		}
		s.mu.Lock()
		s.pushed = append(s.pushed, res)
		s.mu.Unlock()
	}()
}
